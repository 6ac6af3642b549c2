"""The code kind: language detection, the repository walk and its skips, the three renderings, records of
The Stack's shape (JSON Lines and Parquet), the allow-list, and full builds across task counts and seeds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import write_jsonl

from mixer.cli import main
from mixer.errors import PlanError, RecipeError
from mixer.mixing.corpus import SourceCorpus
from mixer.readers.base import Skip
from mixer.recipe import parse_recipe
from mixer.render.code import starcoder_header
from mixer.shards.manifest import read_manifest
from mixer.shards.tokenizer import Encoder, load_tokenizer_info
from mixer.sources.code import CodeSource
from mixer.sources.languages import LANGUAGE_NAMES, canonical_language, detect_language

# ---------------------------------------------------------------------------------------------- languages


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("src/app.py", "Python"),
        ("typings/mod.pyi", "Python"),
        ("SConstruct", "Python"),
        ("include/list.h", "C"),  # ambiguous: C, as Linguist's default
        ("include/list.hpp", "C++"),
        ("src/list.cc", "C++"),
        ("Makefile", "Makefile"),
        ("GNUmakefile", "Makefile"),
        ("Makefile.am", "Makefile"),
        ("rules.mk", "Makefile"),
        ("Dockerfile", "Dockerfile"),
        ("docker/Dockerfile.dev", "Dockerfile"),
        ("app.dockerfile", "Dockerfile"),
        ("Containerfile", "Dockerfile"),
        ("ui/App.tsx", "TypeScript"),
        ("types/index.d.ts", "TypeScript"),
        ("ui/App.jsx", "JavaScript"),
        ("lib/mod.mjs", "JavaScript"),
        ("CMakeLists.txt", "CMake"),
        ("cmake/Find.cmake", "CMake"),
        ("notes.txt", None),  # plain text is not code
        ("README", None),  # no extension, not a known name
        ("LICENSE", None),
        (".gitignore", None),
        ("home/.bashrc", "Shell"),
        (".zshrc", "Shell"),
        ("run.sh", "Shell"),
        ("Gemfile", "Ruby"),
        ("Rakefile", "Ruby"),
        ("BUILD", "Starlark"),
        ("WORKSPACE", "Starlark"),
        ("pkg/BUILD.bazel", "Starlark"),
        ("Jenkinsfile", "Groovy"),
        ("MAIN.PY", "Python"),  # extensions ignore case ...
        ("makefile", "Makefile"),
        ("MAKEFILE", None),  # ... file names do not
        ("analysis.R", "R"),
        ("View.m", "Objective-C"),
        ("api.proto", "Protocol Buffer"),
        ("notebook.ipynb", None),  # notebooks are left out on purpose (outputs, images)
        ("Cargo.toml", "TOML"),
        ("ci.yml", "YAML"),
        ("main.go", "Go"),
        ("lib.rs", "Rust"),
        ("Program.cs", "C#"),
        ("model.jl", "Julia"),
        ("build.zig", "Zig"),
        ("solve.f90", "Fortran"),
        ("doc.rst", "reStructuredText"),
        ("paper.tex", "TeX"),
    ],
)
def test_language_detection(path, language):
    assert detect_language(path) == language


def test_language_table_covers_the_brief_and_aliases_resolve():
    required = """Python JavaScript TypeScript Java C C++ C# Go Rust Ruby PHP Swift Kotlin Scala Shell
    PowerShell SQL R Julia Lua Perl Haskell OCaml Elixir Erlang Clojure Dart Objective-C Fortran Zig Nim HTML
    CSS SCSS Markdown reStructuredText TeX JSON YAML TOML XML Dockerfile Makefile CMake""".split()
    assert set(required) <= set(LANGUAGE_NAMES) and "Protocol Buffer" in LANGUAGE_NAMES
    assert len(LANGUAGE_NAMES) == len(set(LANGUAGE_NAMES)) >= 30
    assert [canonical_language(x) for x in ["python", "CPP", "c#", "golang", " js ", "Klingon"]] == [
        "Python",
        "C++",
        "C#",
        "Go",
        "JavaScript",
        None,
    ]


def test_the_docs_list_every_language():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "code_sources.md").read_text()
    assert [name for name in LANGUAGE_NAMES if f"\n| {name} |" not in docs] == []


# ---------------------------------------------------------------------------------------------- the walk

CONTENT = {
    "Makefile": "all:\n\tpython -m pkg\n",
    "README.md": "# Demo\n\nA small repository.\n",
    "pkg/__init__.py": "from .core import run\n",
    "pkg/core.py": "def run():\n    return 42\n",
    "src/app.ts": "export const answer: number = 42;\n",
}
TINY = {"Dockerfile": "FROM scratch\n", "lib.rs": "pub fn one() -> u8 {\n    1\n}\n"}
LANGUAGE = {
    "Makefile": "Makefile",
    "README.md": "Markdown",
    "pkg/__init__.py": "Python",
    "pkg/core.py": "Python",
    "src/app.ts": "TypeScript",
    "Dockerfile": "Dockerfile",
    "lib.rs": "Rust",
}


def put(root: Path, name: str, data: str | bytes) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> Path:
    """Two repositories: `demo` with one of every kind of entry the walk leaves out, `tiny` with two files."""
    top = tmp_path_factory.mktemp("code")
    (top / "outside").mkdir()
    put(top, "outside/secret.py", "token = 'do not read'\n")
    demo = top / "repos" / "demo"
    for name, text in CONTENT.items():
        put(demo, name, text)
    put(demo, ".git/HEAD", "ref: refs/heads/main\n")
    put(demo, ".gitignore", "*.pyc\n")
    put(demo, "big.py", "x = 1\n" * 100)  # 600 bytes, over the tests' max_file_bytes of 500
    put(demo, "blob.py", b"\x00\x01binary")
    put(demo, "build/gen.py", "generated = True\n")
    put(demo, "empty.py", "\n  \n")
    os.symlink(top / "outside" / "secret.py", demo / "escape.py")
    os.mkfifo(demo / "fifo")
    put(demo, "latin1.py", b"name = 'caf\xe9'\n")
    os.symlink("loop_b", demo / "loop_a")
    os.symlink("loop_a", demo / "loop_b")
    put(demo, "node_modules/left-pad/index.js", "module.exports = 1;\n")
    put(demo, "pkg/__pycache__/core.cpython-311.pyc", b"\x00")
    os.symlink("core.py", demo / "pkg" / "alias.py")
    os.symlink("..", demo / "pkg" / "up")
    put(demo, "vendor/dep.go", "package dep\n")
    for name, text in TINY.items():
        put(top / "repos" / "tiny", name, text)
    put(top / "repos", "NOTES.md", "not a repository: files matched by `repos` are ignored\n")
    return top


def read(source: CodeSource, seed: int = 0) -> tuple[list[tuple[str, dict]], list[tuple[str, int, str]]]:
    """Documents (text, metadata less the bookkeeping) and skips (reason, position, detail) of every input."""
    files = source.resolve("c").files
    reader = source.reader("c", files)
    reader.seed = seed
    docs, skips = [], []
    for index, f in enumerate(files):
        for line, record in reader.records(f.path):
            if not isinstance(record, Skip):
                record = reader.document(record, f.path, index, line)
            if isinstance(record, Skip):
                skips.append((record.reason, record.line, record.detail))
            else:
                meta = {
                    k: v for k, v in record.metadata.items() if k not in ("source", "file_index", "origin")
                }
                docs.append((record.text, meta))
    return docs, skips


DEMO_SKIPS = [
    ("vcs_folder", 1, ".git"),
    ("unknown_language", 2, ".gitignore"),
    ("file_too_large", 5, "big.py: 600 bytes"),
    ("binary_file", 6, "blob.py"),
    ("vendored_folder", 7, "build"),
    ("empty_file", 8, "empty.py"),
    ("symlink_outside_repo", 9, "escape.py: -> {outside}"),
    ("not_a_regular_file", 10, "fifo"),
    ("invalid_utf8", 11, "latin1.py: byte 11"),
    ("symlink_loop", 12, "loop_a: -> loop_b"),
    ("symlink_loop", 13, "loop_b: -> loop_a"),
    ("vendored_folder", 14, "node_modules"),
    ("vendored_folder", 16, "pkg/__pycache__"),
    ("symlink_in_repo", 17, "pkg/alias.py: -> core.py"),  # not followed: core.py is read where it lies
    ("symlink_loop", 19, "pkg/up: -> .."),
    ("vendored_folder", 21, "vendor"),
]


def demo_skips(repos: Path) -> list[tuple[str, int, str]]:
    return [(r, n, d.format(outside=repos / "outside" / "secret.py")) for r, n, d in DEMO_SKIPS]


def test_walk_documents_metadata_and_every_skip(repos):
    docs, skips = read(CodeSource(repos=[f"{repos}/repos/*"], max_file_bytes=500, license="MIT"))
    expected = [("demo", p, t) for p, t in CONTENT.items()] + [("tiny", p, t) for p, t in TINY.items()]
    assert docs == [
        (
            text,
            {
                "repo": repo,
                "path": path,
                "language": LANGUAGE[path],
                "size": len(text.encode()),
                "license": "MIT",
            },
        )
        for repo, path, text in expected
    ]
    assert skips == demo_skips(repos)


def test_resolve_takes_folders_sizes_and_names(repos, tmp_path):
    source = CodeSource(repos=[f"{repos}/repos/*", f"{repos}/repos/tiny/"], max_file_bytes=500)
    resolved = source.resolve("c")
    # sizes: the files the walk would read (names and sizes only): CONTENT, blob.py, empty.py, latin1.py
    assert [(Path(f.path).name, f.bytes) for f in resolved.files] == [
        ("demo", sum(len(t) for t in CONTENT.values()) + 8 + 4 + 14),
        ("tiny", sum(len(t) for t in TINY.values())),
    ]
    assert (
        CodeSource(repos=["x"], repo_name_parts=2).repo_name("/data/github/pallets/flask/") == "pallets/flask"
    )
    assert source.repo_name(f"{repos}/repos/demo") == "demo"
    with pytest.raises(PlanError, match=r"none of its repos matched a folder"):
        CodeSource(repos=[f"{tmp_path}/nothing/*"]).resolve("c")


def test_language_allow_list_and_skip_folders(repos):
    source = CodeSource(
        repos=[f"{repos}/repos/demo"], max_file_bytes=500, languages=["python", "ts"], skip_folders=["pkg"]
    )
    assert source.languages == ["Python", "TypeScript"]
    docs, skips = read(source)
    assert [m["path"] for _, m in docs] == ["build/gen.py", "src/app.ts"]  # build/ is walked now
    assert [s for s in skips if s[0] in ("language_not_allowed", "vendored_folder")] == [
        ("language_not_allowed", 3, "Makefile: Makefile"),
        ("language_not_allowed", 4, "README.md: Markdown"),
        ("language_not_allowed", 14, "node_modules/left-pad/index.js: JavaScript"),
        ("vendored_folder", 15, "pkg"),
        ("language_not_allowed", 17, "vendor/dep.go: Go"),
    ]


def test_unknown_language_names_fail_at_recipe_load():
    recipe = {
        "name": "t",
        "tokenizer": {"train": {"vocab_size": 300}},
        "sources": {"c": {"type": "code", "repos": ["r/*"], "languages": ["Python", "Klingon", "cpp"]}},
    }
    with pytest.raises(RecipeError) as info:
        parse_recipe(recipe)
    assert info.value.problems == [
        "sources.c.languages: unknown language 'Klingon'; valid: " + ", ".join(LANGUAGE_NAMES)
    ]
    recipe["sources"]["c"]["languages"] = ["cpp", "PYTHON", "c++"]
    assert parse_recipe(recipe).sources["c"].languages == ["C++", "Python"]
    for block, message in [
        ({"type": "code"}, "give either `repos` (repository folders) or `records`"),
        ({"type": "code", "repos": ["a"], "records": ["b"]}, "give either `repos`"),
        (
            {"type": "code", "records": ["a.jsonl"], "render": "repository"},
            "render: repository needs `repos`",
        ),
        ({"type": "code", "repos": ["a"], "header_probability": 1.5}, "less than or equal to 1"),
    ]:
        recipe["sources"]["c"] = block
        with pytest.raises(RecipeError, match=re.escape(message)):
            parse_recipe(recipe)


def test_the_recipe_loads_without_datatrove():
    script = """
import sys
sys.modules["datatrove"] = None  # any import of it fails
from mixer.recipe import parse_recipe
recipe = parse_recipe({
    "name": "x",
    "tokenizer": {"train": {"vocab_size": 300}},
    "sources": {"s": {"type": "code", "repos": ["r/*"], "render": "starcoder"}},
})
print(type(recipe.sources["s"]).__name__, recipe.sources["s"].probability)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    assert out.stdout == "CodeSource 0.2\n", out.stderr


# ---------------------------------------------------------------------------------------------- rendering


def test_starcoder_render_with_every_header(repos):
    docs, _ = read(CodeSource(repos=[f"{repos}/repos/tiny"], render="starcoder", header_probability=1.0))
    assert [t for t, _ in docs] == [
        "<reponame>tiny<filename>Dockerfile\nFROM scratch\n",
        "<reponame>tiny<filename>lib.rs\npub fn one() -> u8 {\n    1\n}\n",
    ]
    assert docs[0][1]["size"] == len("FROM scratch\n")  # the file's size, not the rendered text's
    docs, _ = read(CodeSource(repos=[f"{repos}/repos/tiny"], render="starcoder", header_probability=0.0))
    assert [t for t, _ in docs] == list(TINY.values())


def test_starcoder_header_draws_are_per_field_seeded_and_stable():
    paths = [f"pkg/m{i}.py" for i in range(400)]
    headers = [starcoder_header(7, 0.2, "ada/demo", p) for p in paths]
    assert headers == [starcoder_header(7, 0.2, "ada/demo", p) for p in paths]  # a function of its inputs
    assert headers != [starcoder_header(8, 0.2, "ada/demo", p) for p in paths]  # and of the seed
    both = sum(h.startswith("<reponame>ada/demo<filename>") for h in headers)
    repo_only = sum(h.startswith("<reponame>") and "<filename>" not in h for h in headers)
    file_only = sum(h.startswith("<filename>") for h in headers)
    none = sum(h == "" for h in headers)
    assert both + repo_only + file_only + none == 400 and min(both, repo_only, file_only) > 0
    assert 0.15 < (both + repo_only) / 400 < 0.25 and 0.15 < (both + file_only) / 400 < 0.25
    assert all(h == "" or h.endswith("\n") for h in headers)
    assert starcoder_header(7, 1.0, None, "a.py") == "<filename>a.py\n"  # a record without a repository


def test_repository_render_path_order_with_metadata(repos):
    source = CodeSource(
        repos=[f"{repos}/repos/demo"],
        max_file_bytes=500,
        render="repository",
        file_order="path",
        header_probability=1.0,
    )
    docs, skips = read(source)
    assert docs == [
        (
            "<repo_name>demo" + "".join(f"<file_sep>{p}\n{t}" for p, t in CONTENT.items()),
            {
                "repo": "demo",
                "part": 1,
                "paths": list(CONTENT),
                "languages": [LANGUAGE[p] for p in CONTENT],
                "size": 15 + sum(len(f"<file_sep>{p}\n{t}") for p, t in CONTENT.items()),
            },
        )
    ]
    # the walk's skips come first, then the content skips in reading order
    assert skips == [s for s in demo_skips(repos) if s[1] not in (6, 8, 11)] + [
        s for s in demo_skips(repos) if s[1] in (6, 8, 11)
    ]


def test_repository_render_without_metadata_and_split_into_parts(repos):
    plain = CodeSource(
        repos=[f"{repos}/repos/demo"],
        max_file_bytes=500,
        render="repository",
        file_order="path",
        header_probability=0.0,
    )
    [(text, meta)] = read(plain)[0]
    assert text == "".join(f"<file_sep>{t}" for t in CONTENT.values())
    split = plain.model_copy(update={"header_probability": 1.0, "max_repo_bytes": 120})
    docs, _ = read(split)
    groups = [["Makefile", "README.md"], ["pkg/__init__.py", "pkg/core.py"], ["src/app.ts"]]
    assert [m["paths"] for _, m in docs] == groups and [m["part"] for _, m in docs] == [1, 2, 3]
    assert [t for t, _ in docs] == [
        "<repo_name>demo" + "".join(f"<file_sep>{p}\n{CONTENT[p]}" for p in g) for g in groups
    ]
    assert all(m["size"] == len(t.encode()) <= 120 for t, m in docs)
    one = plain.model_copy(update={"max_repo_bytes": 10})  # every file alone: files are never cut
    assert [m["paths"] for _, m in read(one)[0]] == [[p] for p in CONTENT]


def test_repository_random_order_is_a_seeded_permutation(repos):
    source = CodeSource(repos=[f"{repos}/repos/demo"], max_file_bytes=500, render="repository")
    assert source.file_order == "random" and source.probability == 0.5 and source.uses_seed()
    orders = {seed: [read(source, seed)[0][0][1]["paths"] for _ in range(2)] for seed in (1, 2, 3)}
    assert all(a == b and sorted(a) == sorted(CONTENT) for a, b in orders.values())
    assert len({tuple(a) for a, _ in orders.values()}) > 1
    assert not CodeSource(repos=["r"]).uses_seed()
    assert not CodeSource(repos=["r"], render="starcoder", header_probability=1.0).uses_seed()


# ---------------------------------------------------------------------------------------------- records

STACK_KEYS = {
    "path_key": "max_stars_repo_path",
    "repo_key": "max_stars_repo_name",
    "language_key": "lang",
    "license_key": "max_stars_repo_licenses",
    "id_key": "hexsha",
}


def stack_record(i: int, content, path: str | None, lang: str | None = None, **extra) -> dict:
    record = {"hexsha": f"h{i}", "content": content, "max_stars_repo_name": "ada/demo", **extra}
    if path is not None:
        record["max_stars_repo_path"] = path
    if lang is not None:
        record["lang"] = lang
    return record


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stack")
    write_jsonl(
        root / "v1" / "a.jsonl.gz",
        [
            stack_record(1, "print('hi')\n", "src/hi.py", "Python", max_stars_repo_licenses=["MIT"]),
            stack_record(
                2,
                "int main(void) { return 0; }\n",
                "main.c",
                "C",
                max_stars_repo_licenses=["MIT", "BSD-3-Clause"],
            ),
            stack_record(3, "SELECT 1;\n", "q.sql"),  # no language: detected from the path
            stack_record(4, "Module M\nEnd Module\n", "m.vb", "Visual Basic"),  # kept as the record says
            stack_record(5, 42, "n.py", "Python"),
            {"hexsha": "h6", "max_stars_repo_path": "x.py"},
            stack_record(7, "\n", "e.py", "Python"),
            stack_record(8, "a\0b", "b.py", "Python"),
            stack_record(9, "just words\n", "notes.txt"),
            b"{not json\n",
            stack_record(11, "x" * 600, "big.py", "Python"),
            ["a list"],
        ],
        compress="gz",
    )
    table = pa.table(
        {
            "content": ["fn main() {}\n", "puts 1\n", "body { }\n"],
            "path": ["src/main.rs", "bin/run", "site.css"],
            "repo": ["ada/rs", "ada/rb", None],
            "language": [None, "ruby", None],
            "license": ["Apache-2.0", None, "MIT"],
        }
    )
    (root / "v2").mkdir()
    pq.write_table(table, root / "v2" / "part-0.parquet")
    return root


def test_stack_jsonl_records_with_mapped_keys(stack):
    docs, skips = read(CodeSource(records=[f"{stack}/v1"], max_file_bytes=500, **STACK_KEYS))
    assert docs == [
        (
            "print('hi')\n",
            {"language": "Python", "size": 12, "repo": "ada/demo", "path": "src/hi.py", "license": ["MIT"]},
        ),
        (
            "int main(void) { return 0; }\n",
            {
                "language": "C",
                "size": 29,
                "repo": "ada/demo",
                "path": "main.c",
                "license": ["MIT", "BSD-3-Clause"],
            },
        ),
        ("SELECT 1;\n", {"language": "SQL", "size": 10, "repo": "ada/demo", "path": "q.sql"}),
        (
            "Module M\nEnd Module\n",
            {"language": "Visual Basic", "size": 20, "repo": "ada/demo", "path": "m.vb"},
        ),
    ]
    assert skips == [
        ("content_not_a_string", 5, "int"),
        ("missing_content_field", 6, "keys: hexsha, max_stars_repo_path"),
        ("empty_file", 7, "e.py"),
        ("binary_file", 8, "b.py"),
        ("unknown_language", 9, "notes.txt"),
        ("malformed_json", 10, "unexpected character, expected a string key"),
        ("file_too_large", 11, "big.py: 600 bytes"),
        ("not_an_object", 12, "list"),
    ]


def test_stack_parquet_records_allow_list_and_starcoder_header(stack):
    source = CodeSource(records=[f"{stack}/v2/*.parquet"], render="starcoder", header_probability=1.0)
    docs, skips = read(source)
    assert docs == [
        (
            "<reponame>ada/rs<filename>src/main.rs\nfn main() {}\n",
            {
                "language": "Rust",
                "size": 13,
                "repo": "ada/rs",
                "path": "src/main.rs",
                "license": "Apache-2.0",
            },
        ),
        (
            "<reponame>ada/rb<filename>bin/run\nputs 1\n",
            {"language": "Ruby", "size": 7, "repo": "ada/rb", "path": "bin/run"},
        ),
        (
            "<filename>site.css\nbody { }\n",
            {"language": "CSS", "size": 9, "path": "site.css", "license": "MIT"},
        ),
    ]
    assert skips == []
    docs, skips = read(source.model_copy(update={"languages": ["Rust"], "render": "file"}))
    assert [t for t, _ in docs] == ["fn main() {}\n"]
    assert skips == [
        ("language_not_allowed", 1, "bin/run: Ruby"),
        ("language_not_allowed", 2, "site.css: CSS"),
    ]
    bare = CodeSource(records=[f"{stack}/v2/part-0.parquet"], content_key="text")
    assert read(bare)[1] == [
        (
            "missing_text_column",
            0,
            "no column 'text' among ['content', 'path', 'repo', 'language', 'license']; set content_key",
        )
    ]


# ---------------------------------------------------------------------------------------------- builds


def recipe(repos: Path, stack: Path, seed: int = 7) -> str:
    return f"""name: code
seed: {seed}
tokenizer: {{train: {{vocab_size: 300, sample_bytes: 50000}}}}
sources:
  files: {{type: code, repos: ["{repos}/repos/*"], max_file_bytes: 500}}
  headers: {{type: code, repos: ["{repos}/repos/*"], max_file_bytes: 500, render: starcoder, header_probability: 0.5}}
  joined: {{type: code, repos: ["{repos}/repos/*"], max_file_bytes: 500, render: repository, max_repo_bytes: 120}}
  stack:
    type: code
    records: ["{stack}/v1"]
    max_file_bytes: 500
    render: starcoder
    header_probability: 1.0
    path_key: max_stars_repo_path
    repo_key: max_stars_repo_name
    language_key: lang
    license_key: max_stars_repo_licenses
    id_key: hexsha
  stack_v2: {{type: code, records: ["{stack}/v2"]}}
"""


def decoded(out: Path, source: str) -> list[str]:
    tok = read_manifest(out)["tokenizer"]
    encoder = Encoder(load_tokenizer_info(out / tok["path"], eos_token=tok["eos_token"], backend="hf"))
    docs = SourceCorpus(out, source)
    return [
        encoder.decode([int(t) for t in docs.document(i)]).removesuffix("<|endoftext|>")
        for i in range(len(docs))
    ]


@pytest.fixture(scope="module")
def builds(repos, stack, tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("builds")
    (tmp / "recipe.yaml").write_text(recipe(repos, stack))
    outs = {}
    for tasks in ("1", "2"):
        out = tmp / f"out{tasks}"
        result = CliRunner().invoke(
            main, ["build", str(tmp / "recipe.yaml"), "-o", str(out), "--tasks", tasks]
        )
        assert result.exit_code == 0, result.output
        outs[tasks] = out
    return outs


def test_build_manifest_counts_and_texts(builds, repos, stack):
    out = builds["1"]
    manifest = read_manifest(out)
    files = manifest["sources"]["files"]
    assert files["files"] == 2 and files["documents"] == len(CONTENT) + len(TINY)
    assert files["skipped"] == {
        "binary_file": 1,
        "empty_file": 1,
        "file_too_large": 1,
        "invalid_utf8": 1,
        "not_a_regular_file": 1,
        "symlink_in_repo": 1,
        "symlink_loop": 3,
        "symlink_outside_repo": 1,
        "unknown_language": 1,
        "vcs_folder": 1,
        "vendored_folder": 4,
    }
    demo = repos / "repos" / "demo"
    assert files["skip_examples"]["symlink_loop"] == [
        f"{demo}:12 (loop_a: -> loop_b)",
        f"{demo}:13 (loop_b: -> loop_a)",
        f"{demo}:19 (pkg/up: -> ..)",
    ]
    assert decoded(out, "files") == list(CONTENT.values()) + list(TINY.values())
    # the build hands the reader the recipe's seed (7): the texts are those of a seed-7 read
    headers = CodeSource(
        repos=[f"{repos}/repos/*"], max_file_bytes=500, render="starcoder", header_probability=0.5
    )
    assert decoded(out, "headers") == [t for t, _ in read(headers, seed=7)[0]]
    assert [t for t, _ in read(headers, seed=7)[0]] != [t for t, _ in read(headers, seed=0)[0]]
    joined = CodeSource(
        repos=[f"{repos}/repos/*"], max_file_bytes=500, render="repository", max_repo_bytes=120
    )
    assert decoded(out, "joined") == [t for t, _ in read(joined, seed=7)[0]]
    stack_source = manifest["sources"]["stack"]
    assert stack_source["documents"] == 4 and stack_source["files"] == 1
    assert manifest["sources"]["stack_v2"]["documents"] == 3
    assert decoded(out, "stack")[0] == "<reponame>ada/demo<filename>src/hi.py\nprint('hi')\n"


def test_build_is_byte_identical_across_task_counts(builds):
    for source in ("files", "headers", "joined", "stack", "stack_v2"):
        one = sorted((builds["1"] / "sources" / source).glob("*.bin"))
        two = sorted((builds["2"] / "sources" / source).glob("*.bin"))
        assert [p.name for p in one] == [p.name for p in two] and one
        assert [p.read_bytes() for p in one] == [p.read_bytes() for p in two], source


def test_a_new_seed_rebuilds_only_the_seeded_sources(builds, repos, stack, tmp_path):
    out = builds["2"]
    (tmp_path / "recipe.yaml").write_text(recipe(repos, stack, seed=8))
    result = CliRunner().invoke(main, ["build", str(tmp_path / "recipe.yaml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    up_to_date = sorted(line.split(":")[0] for line in result.output.splitlines() if "up to date" in line)
    assert up_to_date == ["files", "stack", "stack_v2"]
    headers = CodeSource(
        repos=[f"{repos}/repos/*"], max_file_bytes=500, render="starcoder", header_probability=0.5
    )
    assert decoded(out, "headers") == [t for t, _ in read(headers, seed=8)[0]]
