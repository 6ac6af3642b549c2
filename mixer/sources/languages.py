"""Programming languages by file name: the table the ``code`` source kind detects languages with.

Detection looks at the name only, never at the content, so it is fast and the same on every machine:
an exact file name first (``Makefile``, ``Dockerfile``, ``.bashrc``), then a file-name pattern
(``Dockerfile.*``), then the last extension, lower-cased (``.PY`` is Python). Names follow GitHub
Linguist, as The Stack's ``lang`` column does, so allow-lists and Stack records agree.

Where an extension is ambiguous the table picks the common case and says so: ``.h`` is C (C++ headers
usually end in ``.hpp``/``.hh``), ``.m`` is Objective-C (not MATLAB), ``.pl`` is Perl (not Prolog),
``.ts`` is TypeScript (not Qt translations), ``.tsx``/``.jsx`` are TypeScript/JavaScript.
Jupyter notebooks (``.ipynb``) are not in the table: their JSON carries outputs and base64 images,
not code; convert them to scripts first (e.g. with jupytext).

To add a language, add one ``Language`` line: extensions, exact file names (a ``*`` makes a pattern)
and aliases are space-separated.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    name: str
    extensions: str = ""  # ".py .pyi"
    filenames: str = ""  # "SConstruct Dockerfile.*"
    aliases: str = ""  # other spellings accepted in recipes and records ("py python3")


LANGUAGES: tuple[Language, ...] = (
    # programming languages
    Language("Python", ".py .pyi .pyw", "SConstruct SConscript", "py python3"),
    Language("JavaScript", ".js .mjs .cjs .jsx", "Jakefile", "js node javascriptreact"),
    Language("TypeScript", ".ts .mts .cts .tsx", "", "ts tsx typescriptreact"),
    Language("Java", ".java"),
    Language("C", ".c .h", "", "ansi-c"),
    Language("C++", ".cpp .cc .cxx .c++ .hpp .hh .hxx .h++ .ipp .tpp .inl", "", "cpp cplusplus"),
    Language("C#", ".cs .csx", "", "csharp c-sharp cs"),
    Language("Go", ".go", "", "golang"),
    Language("Rust", ".rs", "", "rs"),
    Language("Ruby", ".rb .rake .gemspec .ru", "Gemfile Rakefile Guardfile Podfile Vagrantfile", "rb"),
    Language("PHP", ".php .phtml .php3 .php4 .php5", "", ""),
    Language("Swift", ".swift"),
    Language("Kotlin", ".kt .kts"),
    Language("Scala", ".scala .sc .sbt"),
    Language("Groovy", ".groovy .gradle .gvy", "Jenkinsfile Jenkinsfile.*"),
    Language("Shell", ".sh .bash .zsh .ksh", ".bashrc .bash_profile .zshrc .zprofile .profile", "sh bash"),
    Language("PowerShell", ".ps1 .psm1 .psd1", "", "posh pwsh"),
    Language("Batchfile", ".bat .cmd", "", "batch bat"),
    Language("SQL", ".sql"),
    Language("R", ".r", ".Rprofile", "rscript"),
    Language("Julia", ".jl"),
    Language("Lua", ".lua"),
    Language("Perl", ".pl .pm", "", "perl5"),
    Language("Haskell", ".hs .lhs", "", "hs"),
    Language("OCaml", ".ml .mli", "", "ocaml"),
    Language("F#", ".fs .fsi .fsx", "", "fsharp"),
    Language("Elixir", ".ex .exs"),
    Language("Erlang", ".erl .hrl", "rebar.config", ""),
    Language("Clojure", ".clj .cljs .cljc .edn"),
    Language("Emacs Lisp", ".el", ".emacs", "elisp"),
    Language("Dart", ".dart"),
    Language("Objective-C", ".m", "", "objc objectivec obj-c"),
    Language("Objective-C++", ".mm", "", "objc++"),
    Language("Fortran", ".f .f77 .f90 .f95 .f03 .f08 .for", "", "fortran90"),
    Language("Zig", ".zig"),
    Language("Nim", ".nim .nims .nimble"),
    Language("Cuda", ".cu .cuh"),
    Language("Solidity", ".sol"),
    Language("Elm", ".elm"),
    Language("Vim Script", ".vim", ".vimrc _vimrc", "vim viml vimscript"),
    Language("Assembly", ".asm .nasm", "", "asm nasm"),
    Language("Vue", ".vue"),
    # markup, styles and documentation
    Language("HTML", ".html .htm .xhtml"),
    Language("CSS", ".css"),
    Language("SCSS", ".scss"),
    Language("Sass", ".sass"),
    Language("Less", ".less"),
    Language("Markdown", ".md .markdown .mdown .mkd", "", "md"),
    Language("reStructuredText", ".rst .rest", "", "rst"),
    Language("TeX", ".tex .sty .cls .ltx", "", "latex"),
    # data and configuration
    Language("JSON", ".json .jsonc .json5 .geojson", ".babelrc .eslintrc.json", ""),
    Language("YAML", ".yaml .yml", ".clang-format .clang-tidy", "yml"),
    Language("TOML", ".toml", "Pipfile", ""),
    Language("XML", ".xml .xsd .xsl .xslt .plist .csproj .vcxproj .pom", "", ""),
    Language("INI", ".ini", ".editorconfig .gitconfig", "dosini"),
    Language("GraphQL", ".graphql .gql"),
    Language("HCL", ".tf .hcl .tfvars", "", "terraform"),
    # build and interface definitions
    Language("Dockerfile", ".dockerfile", "Dockerfile Containerfile Dockerfile.* Containerfile.*", "docker"),
    Language("Makefile", ".mk .mak", "Makefile makefile GNUmakefile Makefile.* BSDmakefile", "make"),
    Language("CMake", ".cmake", "CMakeLists.txt", ""),
    Language("Starlark", ".bzl .star", "BUILD BUILD.bazel WORKSPACE WORKSPACE.bazel MODULE.bazel", "bazel"),
    Language("Protocol Buffer", ".proto", "", "protobuf proto protocol-buffers"),
    Language("Thrift", ".thrift"),
)


def _build_tables() -> tuple[dict[str, str], dict[str, str], list[tuple[str, str]], dict[str, str]]:
    by_ext: dict[str, str] = {}
    by_name: dict[str, str] = {}
    patterns: list[tuple[str, str]] = []
    by_label: dict[str, str] = {}
    for lang in LANGUAGES:
        for label in (lang.name, *lang.aliases.split()):
            _claim(by_label, label.lower(), lang.name, "name or alias")
        for ext in lang.extensions.split():
            _claim(by_ext, ext.lower(), lang.name, "extension")
        for name in lang.filenames.split():
            if "*" in name:
                patterns.append((name, lang.name))
            else:
                _claim(by_name, name, lang.name, "file name")
    return by_ext, by_name, patterns, by_label


def _claim(table: dict[str, str], key: str, name: str, what: str) -> None:
    if table.get(key, name) != name:
        raise ValueError(f"{what} '{key}' is claimed by both {table[key]} and {name}")
    table[key] = name


_BY_EXTENSION, _BY_FILENAME, _PATTERNS, _BY_LABEL = _build_tables()

LANGUAGE_NAMES: tuple[str, ...] = tuple(lang.name for lang in LANGUAGES)


def detect_language(path: str) -> str | None:
    """The language of the file at ``path`` (its name only is looked at), or None when unknown."""
    name = os.path.basename(path)
    found = _BY_FILENAME.get(name)
    if found:
        return found
    for pattern, lang in _PATTERNS:
        if fnmatch.fnmatchcase(name, pattern):
            return lang
    ext = os.path.splitext(name)[1]  # ".bashrc" has none: dot files are matched by name above
    return _BY_EXTENSION.get(ext.lower()) if ext else None


def canonical_language(label: str) -> str | None:
    """The table's name for ``label`` (a name or an alias, any case: "python", "cpp", "C#"), or None."""
    return _BY_LABEL.get(label.strip().lower())
