"""The ``code`` readers: repository folders (walked in a fixed order) and The Stack-style records.

Positions in skip counts: for a repository, the ordinal of the entry in walk order (1 = the first entry
the walk met), with the entry's path in the detail; for records, the line (JSON Lines) or row (Parquet).
A repository document's position is its part number.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from datatrove.data import Document

from mixer.readers.base import MixerReader, Skip
from mixer.readers.jsonl import JsonlSourceReader
from mixer.readers.parquet import ParquetSourceReader
from mixer.readers.repotree import BINARY_SNIFF, RepoFile, RepoSkip, read_source, walk_repository
from mixer.render.code import RepositoryPacker, RepositoryPart, order_key, starcoder_header
from mixer.sources.base import describe_record_keys
from mixer.sources.languages import canonical_language, detect_language

if TYPE_CHECKING:
    from mixer.sources.base import InputFile
    from mixer.sources.code import CodeSource

_MISSING = object()


class _CodeReader(MixerReader):
    # The recipe's seed: the build sets it when CodeSource.uses_seed() (headers and orders are drawn from it).
    seed: int = 0

    def __init__(self, source: str, files: list[InputFile], *, config: CodeSource):
        super().__init__(source, files, text_key=config.content_key, id_key=config.id_key)
        self.config = config
        self.allowed = config.allowed_languages()

    def _header(self, repo: str | None, path: str | None) -> str:
        if self.config.render != "starcoder":
            return ""
        return starcoder_header(self.seed, self.config.probability, repo, path)

    def _make(
        self, text: str, doc_id: str, meta: dict[str, Any], path: str, index: int, line: int
    ) -> Document:
        meta.update(source=self.source, origin=f"{path}:{line}", file_index=index)
        return Document(text=text, id=doc_id, metadata=meta)


class RepositoryReader(_CodeReader):
    """One repository folder per unit: a document per file, or per repository part (``render: repository``)."""

    name = "mixer code repositories"

    def records(self, path: str) -> Iterator[tuple[int, Any]]:
        cfg = self.config
        try:
            walk = walk_repository(
                path,
                skip_folders=cfg.folder_rules(),
                max_file_bytes=cfg.max_file_bytes,
                languages=self.allowed,
            )
        except OSError as e:
            yield 0, Skip("unreadable_repository", 0, f"{type(e).__name__}: {e.strerror or e}")
            return
        repo = cfg.repo_name(path)
        if cfg.render == "repository":
            yield from self._repository(path, repo, walk)
            return
        for n, entry in enumerate(walk, start=1):
            if isinstance(entry, RepoSkip):
                yield n, _skip(entry, entry, n)
                continue
            text = read_source(entry.path, cfg.max_file_bytes)
            if isinstance(text, RepoSkip):
                yield n, _skip(text, entry, n)
                continue
            record = {
                "text": self._header(repo, entry.rel) + text,
                "id": f"{repo}/{entry.rel}",
                "repo": repo,
                "path": entry.rel,
                "language": entry.language,
                "size": entry.size,
            }
            if cfg.license is not None:
                record["license"] = cfg.license
            yield n, record

    def _repository(
        self, path: str, repo: str, walk: Iterator[RepoFile | RepoSkip]
    ) -> Iterator[tuple[int, Any]]:
        """The walk's skips first, then the parts; only the file list is held, and one part's text."""
        cfg = self.config
        files: list[tuple[int, RepoFile]] = []
        for n, entry in enumerate(walk, start=1):
            if isinstance(entry, RepoSkip):
                yield n, _skip(entry, entry, n)
            else:
                files.append((n, entry))
        if cfg.file_order == "random":
            files.sort(key=lambda f: order_key(self.seed, "order", repo, f[1].rel))
        packer = RepositoryPacker(
            repo,
            seed=self.seed,
            probability=cfg.probability,
            file_separator=cfg.file_separator,
            repo_name_token=cfg.repo_name_token,
            max_bytes=cfg.max_repo_bytes,
        )
        for n, entry in files:
            text = read_source(entry.path, cfg.max_file_bytes)
            if isinstance(text, RepoSkip):
                yield n, _skip(text, entry, n)
                continue
            closed = packer.add(entry.rel, text, entry.language)
            if closed is not None:
                yield closed.number, self._part(repo, closed)
        last = packer.finish()
        if last is not None:
            yield last.number, self._part(repo, last)

    def _part(self, repo: str, part: RepositoryPart) -> dict[str, Any]:
        record: dict[str, Any] = {
            "text": part.text,
            "id": f"{repo}#{part.number}",
            "repo": repo,
            "part": part.number,
            "paths": part.paths,
            "languages": part.languages,
            "size": part.size,
        }
        if self.config.license is not None:
            record["license"] = self.config.license
        return record

    def document(self, record: Any, path: str, index: int, line: int) -> Document | Skip:
        text, doc_id = record.pop("text"), record.pop("id")
        return self._make(text, doc_id, record, path, index, line)


class CodeRecordReader(_CodeReader):
    """JSON Lines or Parquet files of one source file per record; each file is opened by the jsonl or
    parquet kind's own reader (by suffix), so compression, truncation and bad lines are handled alike."""

    name = "mixer code records"

    def __init__(self, source: str, files: list[InputFile], *, config: CodeSource):
        super().__init__(source, files, config=config)
        self._jsonl = JsonlSourceReader(source, [], text_key=config.content_key)
        self._parquet = ParquetSourceReader(source, [], text_key=config.content_key)

    def records(self, path: str) -> Iterator[tuple[int, Any]]:
        reader = self._parquet if path.lower().endswith(".parquet") else self._jsonl
        reader.max_document_chars, reader.sampling = self.max_document_chars, self.sampling  # line bound
        reader.ledger = self.ledger  # bytes read count towards this reader's progress
        for line, record in reader.records(path):
            if isinstance(record, Skip) and record.reason == "missing_text_column":
                record.detail = record.detail.replace("set text_key", "set content_key")
            yield line, record

    def document(self, record: Any, path: str, index: int, line: int) -> Document | Skip:
        cfg = self.config
        if not isinstance(record, dict):
            return Skip("not_an_object", line, type(record).__name__)
        content = record.get(cfg.content_key, _MISSING)
        if content is _MISSING:
            return Skip("missing_content_field", line, f"keys: {describe_record_keys(record)}")
        if not isinstance(content, str):
            return Skip("content_not_a_string", line, type(content).__name__)
        file_path = _text(record.get(cfg.path_key))
        repo = _text(record.get(cfg.repo_key))
        where = file_path or ""
        language = self._language(record, file_path)
        if language is None:
            return Skip("unknown_language", line, where)
        if self.allowed is not None and language not in self.allowed:
            return Skip("language_not_allowed", line, f"{where}: {language}" if where else language)
        try:
            size = len(content.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate (JSON "\ud800")
            return Skip("invalid_utf8", line, where)
        if size > cfg.max_file_bytes:
            return Skip("file_too_large", line, f"{where}: {size} bytes" if where else f"{size} bytes")
        if "\0" in content[:BINARY_SNIFF]:
            return Skip("binary_file", line, where)
        if not content.strip():
            return Skip("empty_file", line, where)
        meta: dict[str, Any] = {"language": language, "size": size}
        if repo is not None:
            meta["repo"] = repo
        if file_path is not None:
            meta["path"] = file_path
        license_ = _license(record.get(cfg.license_key))
        if license_ is not None:
            meta["license"] = license_
        doc_id = record.get(cfg.id_key)
        if doc_id is None:
            doc_id = f"{repo}/{file_path}" if repo and file_path else f"{self.source}/{index}/{line}"
        return self._make(self._header(repo, file_path) + content, str(doc_id), meta, path, index, line)

    def _language(self, record: dict[str, Any], path: str | None) -> str | None:
        key = self.config.language_key
        label = record.get(key) if key else record.get("language", record.get("lang"))
        if isinstance(label, str) and label.strip():
            # a label the table does not know (The Stack has hundreds) is kept as the record gives it
            return canonical_language(label) or label.strip()
        return detect_language(path) if path else None


def _skip(why: RepoSkip, entry: RepoFile | RepoSkip, n: int) -> Skip:
    detail = f"{entry.rel}: {why.detail}" if why.detail else entry.rel
    return Skip(why.reason, n, detail)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _license(value: Any) -> str | list[str] | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None
