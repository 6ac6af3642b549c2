"""The reader step every source kind shares: explicit file lists, per-file resume, counted skips.

datatrove's disk readers shard a folder by rank and log a warning for a bad line. mixer needs more: the
canonical file order is fixed at plan time (so output does not depend on the number of tasks), files
already committed by an earlier, interrupted run are skipped, and every record that cannot become a
document is counted with its reason, file and line. A kind implements :meth:`MixerReader.records`; this
class owns the loop, the document construction and the bookkeeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers.base import BaseReader

from mixer.readers.inputs import open_input
from mixer.sources.base import InputFile, describe_record_keys

SKIP_EXAMPLES = 20
# A record's bytes per character of its text at most, escapes included: JSON writes a character outside
# ASCII as "\uXXXX" (Python's json.dumps does by default). A line longer than this many bytes per character
# of ``build.max_document_chars`` (plus room for the other fields) cannot hold an acceptable document, so it
# is skipped while it is read, before any of it is parsed or held whole.
LINE_BYTES_PER_CHAR = 6
LINE_BYTES_SLACK = 1 << 20
# Text samples (the tokenizer's training sample, backend probes) take a small share of any one document and
# leave out a line longer than this: sampling never holds more of one line than this, whatever the bound
# of the build (a document on such a line is still built, when build.max_document_chars allows it).
SAMPLE_LINE_BYTES = 64 << 20
# skips that stand for a whole file (or its unreadable rest), not for one record
FILE_LEVEL_SKIPS = frozenset(
    {
        "unreadable_file",
        "truncated_file",
        "missing_text_column",
        "empty_repository",
        "ref_not_found",
        "unreadable_repository",
    }
)


@dataclass
class Skip:
    """A record that could not be read: the reason and where."""

    reason: str
    line: int
    detail: str = ""


@dataclass
class FileReport:
    """What reading one input file produced (kept in the part sidecar, summed into the manifest)."""

    index: int
    path: str
    records: int = 0
    documents: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    skip_examples: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)  # quality step -> reason -> documents
    redactions: dict[str, int] = field(default_factory=dict)  # kind -> count

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        examples = self.skip_examples.setdefault(reason, [])
        if len(examples) < SKIP_EXAMPLES:
            examples.append(where)

    def drop(self, step: str, reason: str) -> None:
        reasons = self.dropped.setdefault(step, {})
        reasons[reason] = reasons.get(reason, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "path": self.path,
            "records": self.records,
            "documents": self.documents,
            "skipped": dict(sorted(self.skipped.items())),
            "skip_examples": dict(sorted(self.skip_examples.items())),
            "dropped": {k: dict(sorted(v.items())) for k, v in sorted(self.dropped.items())},
            "redactions": dict(sorted(self.redactions.items())),
        }


class FileLedger:
    """Shared by a task's reader and its shard writer: which files are finished and what they yielded.

    Both steps are pickled together into the task, so they keep pointing at the same ledger.
    """

    def __init__(self) -> None:
        self.finished: list[FileReport] = []  # read completely in this run, in order
        self.current: FileReport | None = None  # the file being read: quality steps count their drops here
        # the build's progress: files read completely, their input bytes, bytes taken from the current one
        self.files_read = self.bytes_done = self.position = 0

    def reset(self) -> None:
        self.finished = []
        self.files_read = self.bytes_done = self.position = 0

    def advance(self, n: int) -> None:
        self.position += n

    def take_finished(self) -> list[FileReport]:
        out, self.finished = self.finished, []
        return out


def task_files(todo: list[int], rank: int, world_size: int) -> list[int]:
    """The files task ``rank`` of ``world_size`` reads: a contiguous run of ``todo``, the runs in rank order.

    Contiguous, so that each part a task writes holds a run of files in canonical order, and assembling
    can delete each part as soon as it is copied (:mod:`mixer.build.assemble`).
    """
    return todo[rank * len(todo) // world_size : (rank + 1) * len(todo) // world_size]


class MixerReader(BaseReader):
    """Read an explicit list of files; task ``rank`` of ``world_size`` takes a contiguous run of them
    (:func:`task_files`)."""

    type = "📖 - READER"
    max_document_chars = 100_000_000  # the build sets build.max_document_chars

    def __init__(self, source: str, files: list[InputFile], *, text_key: str = "text", id_key: str = "id"):
        super().__init__(text_key=text_key, id_key=id_key)
        self.source = source
        self.files = [f.path for f in files]
        self.sizes = [f.bytes for f in files]  # -1: unknown
        # Indices still to read, fixed by the build before any task starts (every task must see the same
        # list, or the partition into tasks would shift under tasks that start late).
        self.todo: list[int] = list(range(len(files)))
        self.ledger = FileLedger()

    def records(self, path: str) -> Iterator[tuple[int, Any]]:
        """Yield ``(line or row number, record)``; a :class:`Skip` in place of a record counts a skip."""
        raise NotImplementedError

    def open_input(self, path: str) -> BinaryIO:
        """``path`` (local or a URL) opened and decompressed by its name, its bytes counted as progress."""
        return open_input(path, self.ledger.advance)

    def max_line_bytes(self) -> int:
        """The longest line that can hold a document of ``max_document_chars`` characters (at most
        :data:`SAMPLE_LINE_BYTES` on a reader that samples)."""
        limit = LINE_BYTES_PER_CHAR * self.max_document_chars + LINE_BYTES_SLACK
        return min(limit, SAMPLE_LINE_BYTES) if self.sampling else limit

    sampling = False  # set by sample_records: this reader only samples text

    def sample_records(self, path: str) -> Iterator[tuple[int, Any]]:
        """Records for sampling text (tokenizer training, backend probes); by default :meth:`records`, with
        lines bounded by :data:`SAMPLE_LINE_BYTES`.

        A kind whose records are expensive to produce (verified by running code) skips that work here.
        """
        self.sampling = True
        return self.records(path)

    def document(self, record: Any, path: str, index: int, line: int) -> Document | Skip:
        """The document for one record, or the reason it cannot be one."""
        if not isinstance(record, dict):
            return Skip("not_an_object", line, type(record).__name__)
        text = record.get(self.text_key, _MISSING)
        if text is _MISSING:
            return Skip("missing_text_field", line, f"keys: {describe_record_keys(record)}")
        if not isinstance(text, str):
            return Skip("text_not_a_string", line, type(text).__name__)
        if not text.strip():
            return Skip("empty_text", line)
        doc_id = record.get(self.id_key)
        metadata = {k: v for k, v in record.items() if k != self.text_key and k != self.id_key}
        metadata.update(source=self.source, origin=f"{path}:{line}", file_index=index)
        return Document(
            text=text,
            id=str(doc_id) if doc_id is not None else f"{self.source}/{index}/{line}",
            metadata=metadata,
        )

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        ledger = self.ledger
        for index in task_files(self.todo, rank, world_size):
            path = self.files[index]
            report = FileReport(index=index, path=path)
            ledger.current = report
            ledger.position = 0
            self.stat_update("input_files")
            for line, record in self.records(path):
                if not isinstance(record, Skip) or record.reason not in FILE_LEVEL_SKIPS:
                    report.records += 1
                if not isinstance(record, Skip):
                    with self.track_time():
                        record = self.document(record, path, index, line)
                    if not isinstance(record, Skip) and len(record.text) > self.max_document_chars:
                        record = Skip("document_too_large", line, f"{len(record.text):,} characters")
                if isinstance(record, Skip):
                    detail = f" ({record.detail})" if record.detail else ""
                    report.skip(record.reason, f"{path}:{record.line}{detail}")
                    self.stat_update(f"skipped_{record.reason}")
                    continue
                report.documents += 1
                self.stat_update("documents")
                yield record
            ledger.finished.append(report)
            ledger.files_read += 1
            ledger.bytes_done += max(self.sizes[index], 0)
            ledger.position = 0


_MISSING = object()
