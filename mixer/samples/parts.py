"""The sample corpus's parts as gathered and written: what each folder holds, and the tally that decides
which texts join a part (non-empty, small enough, not seen before).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class SampleCorpusError(RuntimeError):
    """The sample corpus gathered on this machine is smaller than asked for."""


@dataclass(frozen=True)
class SamplePart:
    """One folder of the sample corpus as written: its files and exactly what they hold."""

    name: str
    format: str  # "jsonl.gz" | "jsonl.zst" | "jsonl" | "parquet" | "text" | "git"
    files: list[Path]  # for "git": the bare repositories (folders)
    documents: int  # for "git": commits reachable from the snapshots' HEADs
    text_bytes: int  # UTF-8 bytes of the documents' text before compression; "jsonl": of the JSON; "git": 0
    unit: str = "documents"  # what `documents` counts: documents, commits, pull requests, problems


@dataclass(frozen=True)
class SampleCorpusSummary:
    """What :func:`gather_sample_corpus` wrote: the folder, its parts keyed by name, and their total text."""

    out_dir: Path
    parts: dict[str, SamplePart]
    total_bytes: int  # bytes of text gathered (uncompressed UTF-8)
    notes: tuple[str, ...] = ()  # what could not be gathered on this machine, and why


# --- gathering one part -------------------------------------------------------------------------------


class Skip(Exception):
    """A candidate document that is not written; ``reason`` is counted in its part's tally."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Candidate:
    """A document that may join a part: ``load`` returns its text or raises :class:`Skip`."""

    load: Callable[[], str]
    fields: dict[str, str]  # the record's fields after "id" and "text"


@dataclass(frozen=True)
class Gathered:
    part: SamplePart
    skipped: Counter[str]


@dataclass
class Tally:
    """Decides which texts join a part (non-empty, small enough, not seen before) and counts the rest."""

    part: str
    max_doc_bytes: int
    skipped: Counter[str] = field(default_factory=Counter)
    seen: set[bytes] = field(default_factory=set)

    def admit(self, text: str) -> tuple[str, bytes] | None:
        """Return ``(id, UTF-8 bytes)`` for a new document, else count why ``text`` is skipped; None."""
        if not text.strip():
            self.skipped["empty"] += 1
            return None
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates, e.g. from metadata decoded with surrogateescape
            self.skipped["not-utf8"] += 1
            return None
        if len(data) > self.max_doc_bytes:
            self.skipped["oversized"] += 1
            return None
        digest = hashlib.sha256(data).digest()
        if digest in self.seen:
            self.skipped["duplicate"] += 1
            return None
        self.seen.add(digest)
        # Ids are content hashes, so they do not shift when a file is added elsewhere on the machine.
        return f"{self.part}-{digest.hex()[:16]}", data
