"""The ``code`` kind: source code from repository folders or from The Stack-style records.

Two inputs, one per recipe block:

- ``repos``: repository folders (or globs of them, ``/data/repos/*`` for every folder in
  ``/data/repos``). One repository is one unit of work; its files are walked in a fixed order and
  every file left out is counted with its reason (see :mod:`mixer.readers.repotree`).
- ``records``: JSON Lines or Parquet files of one source file per record (``content``, ``path``,
  ``repo``, ``language``, ``license``; the names are mapped with ``*_key``). One data file is one unit.

Languages come from :mod:`mixer.sources.languages` (from a record's own language field when it has one);
``render`` decides the text (:mod:`mixer.render.code`). See docs/code_sources.md.
"""

from __future__ import annotations

import glob
import os
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mixer.readers.repotree import DEFAULT_SKIP_FOLDERS, FolderRules, tree_bytes
from mixer.sources.base import (
    InputFile,
    ResolvedInputs,
    SourceConfig,
    expand_pattern,
    reader_named,
    register_source,
)
from mixer.sources.languages import LANGUAGE_NAMES, canonical_language

if TYPE_CHECKING:
    from datatrove.pipeline.base import PipelineStep

RECORD_SUFFIXES = (
    ".jsonl",
    ".jsonl.gz",
    ".jsonl.zst",
    ".jsonl.bz2",
    ".jsonl.xz",
    ".json.gz",
    ".ndjson",
    ".parquet",
)
# the probability of the header fields when `header_probability` is not set: StarCoder's 0.2 per field
# (bigcode-dataset add_content_with_meta.py), StarCoder2's 0.5 for repository metadata
DEFAULT_HEADER_PROBABILITY = {"file": 0.0, "starcoder": 0.2, "repository": 0.5}


@register_source
class CodeSource(SourceConfig):
    """Source files, one document per file (``render: file | starcoder``) or per repository
    (``render: repository``), read from repository folders or from records of The Stack's shape."""

    kind: ClassVar[str] = "code"
    type: Literal["code"] = "code"
    repos: list[str] | None = Field(
        default=None,
        description="Repository folders or glob patterns matching them ('/data/repos/*' reads every folder "
        "in /data/repos as one repository). Pattern order, sorted within a pattern; files matched are ignored. "
        "Give either repos or records.",
    )
    records: list[str] | None = Field(
        default=None,
        description="JSON Lines (.jsonl, .gz, .zst, .bz2, .xz) or Parquet files, or globs, or folders of "
        "them, local or URLs (s3://, gs://, https://, hf://): one "
        "source file per record, The Stack-style. Give either repos or records.",
    )
    languages: list[str] | None = Field(
        default=None,
        description="Keep only these languages (names or aliases, any case: Python, cpp, JavaScript); "
        "default: every language the table detects (see docs/code_sources.md).",
    )
    max_file_bytes: int = Field(
        default=1_000_000, gt=0, description="Larger files (or record contents) are skipped and counted."
    )
    skip_folders: list[str] = Field(
        default=list(DEFAULT_SKIP_FOLDERS),
        description="repos: folder names (or fnmatch patterns) left out with everything under them: "
        "dependencies, vendored code, caches, build output. Version-control folders are always left out.",
    )
    repo_name_parts: int = Field(
        default=1,
        ge=1,
        description="repos: how many trailing folder names make a repository's name: 1 names "
        "/data/repos/flask 'flask', 2 names /data/github/pallets/flask 'pallets/flask'.",
    )
    license: str | None = Field(
        default=None,
        description="repos: the license recorded for every repository of this block, when known "
        "(records take theirs from license_key).",
    )
    render: Literal["file", "starcoder", "repository"] = Field(
        default="file",
        description="file: a file's content as it is; starcoder: '<reponame>{repo}<filename>{path}\\n' "
        "then the content, each field with probability header_probability; repository (repos only): the "
        "files of a repository joined, '<repo_name>{repo}<file_sep>{path}\\n{content}...', split at max_repo_bytes.",
    )
    header_probability: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="starcoder: probability of each header field (default 0.2, as StarCoder); repository: "
        "probability that a document shows the repository name and file paths (default 0.5, as StarCoder2). "
        "Drawn from the recipe's seed and the file (or repository part), so builds are reproducible.",
    )
    file_order: Literal["random", "path"] = Field(
        default="random",
        description="repository: files in a seeded random order (as StarCoder2) or in walk (path) order.",
    )
    max_repo_bytes: int = Field(
        default=1_000_000,
        gt=0,
        description="repository: a repository's text is split into documents of at most this many bytes "
        "(a single larger file is a document of its own).",
    )
    file_separator: str = Field(default="<file_sep>", description="repository: put before each file.")
    repo_name_token: str = Field(
        default="<repo_name>", description="repository: put before the repository name."
    )
    content_key: str = Field(default="content", description="records: field holding the file content.")
    path_key: str = Field(
        default="path", description="records: field holding the file's path in its repository."
    )
    repo_key: str = Field(default="repo", description="records: field holding the repository name.")
    language_key: str | None = Field(
        default=None,
        description="records: field holding the language (default: 'language', else 'lang'); a record "
        "without one gets the language detected from its path.",
    )
    license_key: str = Field(
        default="license",
        description="records: field holding the license (a string or a list of them).",
    )
    id_key: str = Field(
        default="id",
        description="records: field holding the document id (default: repo/path, or file and line).",
    )

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, languages: list[str] | None) -> list[str] | None:
        if languages is None:
            return None
        unknown = [name for name in languages if canonical_language(name) is None]
        if unknown:
            raise ValueError(
                f"unknown language{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"valid: {', '.join(LANGUAGE_NAMES)}"
            )
        return list(dict.fromkeys(canonical_language(name) for name in languages))  # type: ignore[misc]

    @model_validator(mode="after")
    def _one_input(self) -> CodeSource:
        if (self.repos is None) == (self.records is None):
            raise ValueError("give either `repos` (repository folders) or `records` (JSONL/Parquet files)")
        for key in ("repos", "records"):
            if getattr(self, key) == []:
                raise ValueError(f"`{key}` is empty; list at least one path or pattern")
        if self.render == "repository" and self.records is not None:
            raise ValueError(
                "render: repository needs `repos` (folders): records are one file each and are not "
                "grouped by repository; use render: file or starcoder"
            )
        return self

    @property
    def probability(self) -> float:
        """The header probability in effect for this block's ``render``."""
        if self.header_probability is not None:
            return self.header_probability
        return DEFAULT_HEADER_PROBABILITY[self.render]

    def uses_seed(self) -> bool:
        random_header = self.render != "file" and 0.0 < self.probability < 1.0
        random_order = self.render == "repository" and self.file_order == "random"
        return random_header or random_order

    def folder_rules(self) -> FolderRules:
        return FolderRules(self.skip_folders)

    def allowed_languages(self) -> frozenset[str] | None:
        return frozenset(self.languages) if self.languages is not None else None

    def repo_name(self, path: str) -> str:
        """A repository's name: the last ``repo_name_parts`` folder names of its path."""
        parts = [p for p in os.path.normpath(os.path.abspath(path)).split(os.sep) if p]
        return "/".join(parts[-self.repo_name_parts :])

    def resolve(self, name: str) -> ResolvedInputs:
        from mixer.errors import PlanError
        from mixer.sources.locations import check_compression, expand_url, is_url

        key = "repos" if self.repos is not None else "records"
        patterns: list[str] = getattr(self, key)
        seen: set[str] = set()
        files: list[InputFile] = []
        warnings: list[str] = []
        for i, pattern in enumerate(patterns):
            where = f"sources.{name}.{key}[{i}]"
            if self.repos is not None:
                if is_url(pattern):
                    raise PlanError(
                        f"{where}: '{pattern}' is a URL; repository folders are read from the local disk: "
                        "clone or copy them here, or give The Stack-style files as `records` (URLs work there)"
                    )
                local = os.path.expanduser(pattern)  # an existing folder is taken literally
                candidates = [local] if os.path.lexists(local) else glob.glob(local, recursive=True)
                found = [(m.rstrip(os.sep) or m, -1) for m in sorted(candidates) if os.path.isdir(m)]
            elif is_url(pattern):
                found = expand_url(pattern, RECORD_SUFFIXES, where)
            else:
                found = [(path, os.path.getsize(path)) for path in expand_pattern(pattern, RECORD_SUFFIXES)]
            if not found:
                what = "folders" if self.repos is not None else "files"
                warnings.append(f"{where}: '{pattern}' matched no {what}")
            for path, size in found:
                if self.records is not None:
                    check_compression(path, where)
                real = path if is_url(path) else os.path.realpath(path)
                if real in seen:
                    continue
                seen.add(real)
                files.append(InputFile(path=path, bytes=self._size(path) if self.repos is not None else size))
        if not files:
            raise PlanError(
                f"source '{name}': none of its {key} matched a {'folder' if key == 'repos' else 'file'} "
                f"({', '.join(map(repr, patterns))}); check sources.{name}.{key} (relative paths are taken "
                f"from the working directory {os.getcwd()})"
            )
        return ResolvedInputs(files=files, warnings=warnings)

    def _size(self, path: str) -> int:
        if self.records is not None:
            return os.path.getsize(path)
        return tree_bytes(
            path,
            skip_folders=self.folder_rules(),
            max_file_bytes=self.max_file_bytes,
            languages=self.allowed_languages(),
        )

    def reader(self, name: str, files: list[InputFile]) -> PipelineStep:
        spec = "mixer.readers.code:" + ("RepositoryReader" if self.repos is not None else "CodeRecordReader")
        return reader_named(spec)(name, files, config=self)
