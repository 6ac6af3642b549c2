"""The quality stage: a source's ``filters:`` steps, in order, with every drop and redaction counted.

Each step is a datatrove step used as its authors intend: a filter's ``filter(doc)`` decides keep or drop
(with its reason), any other step (a formatter such as the PII redactor) runs over the document through
its ``run``. The stage sits between the reader and the shard writer, so it sees a file's documents while
that file is being read and counts into the file's report (``FileLedger.current``): the counts travel in
the part sidecars with the file, and a file redone after an interruption is counted once.

With deduplication the steps would run twice, once before the signatures and once before tokenizing.
Instead the signatures pass records each file's decisions (``decisions/<global file id>.json`` under the
dedup folder: which step dropped which document, and why), and the tokenize pass replays them: a step in
``REPLAYED_STEPS`` — one whose ``filter`` neither changes the document nor its metadata — is not run
again; its recorded decision is applied. Every other step (the PII redactor, C4's line filter, the
language identifier whose label later steps read) runs again and, being deterministic, decides the same.

With ``keep_rejected``, dropped documents go to ``rejected/<file index>.jsonl.gz`` under the source's work
folder, one file per input file (written whole, then renamed, so a redone file replaces its own), each
line ``{"id", "text", "step", "reason", "origin"}`` (and ``duplicate_of`` for duplicates); the build moves them to ``<output>/rejected/<source>/``.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from mixer.atomic import write_json_atomic
from mixer.build.stages.dedup import DedupRemovals
from mixer.filters.steps import StepSpec, make_step
from mixer.readers.base import FileLedger

# filters that only decide: neither the text nor the metadata of a document changes
REPLAYED_STEPS = frozenset(
    {"gopher_quality", "gopher_repetition", "fineweb_quality", "c4_badwords", "code_quality"}
)


class QualityStage(PipelineStep):
    """A source's quality steps in order, each drop counted (and kept, with ``rejected_dir``).

    ``record`` (a folder and the source's first global file id) writes each file's decisions there;
    ``replay`` (the same) applies recorded decisions instead of running the steps in ``REPLAYED_STEPS``.
    """

    name = "mixer quality steps"
    type = "🔻 - FILTER"

    def __init__(
        self,
        specs: list[StepSpec],
        ledger: FileLedger,
        rejected_dir: str | None = None,
        dedup: DedupRemovals | None = None,
        record: tuple[str, int] | None = None,
        replay: tuple[str, int] | None = None,
    ):
        super().__init__()
        self.specs = specs
        self.ledger = ledger
        self.rejected_dir = rejected_dir
        self.dedup = dedup
        self.record = record
        self.replay = replay
        self._steps: list[tuple[str, Any]] | None = None

    def steps(self) -> list[tuple[str, Any]]:
        if self._steps is None:  # built in the worker: some hold models or compiled patterns
            self._steps = [(spec.name, make_step(spec)) for spec in self.specs]
        return self._steps

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        rejected = _RejectedWriter(Path(self.rejected_dir)) if self.rejected_dir else None
        decisions = _Decisions(*(self.record or self.replay)) if self.record or self.replay else None
        steps = self.steps()
        try:
            for doc in data:
                report = self.ledger.current
                index = doc.metadata["file_index"]
                if rejected is not None:
                    rejected.at_file(index)
                recorded = None
                if decisions is not None:
                    decisions.at_file(index, load=self.replay is not None)
                    recorded = decisions.recorded() if self.replay is not None else None
                kept = self._apply(doc, steps, report, rejected, decisions, recorded)
                if kept is not None:
                    yield kept
            if decisions is not None and self.record is not None:
                decisions.save()
        finally:
            if rejected is not None:
                rejected.close()

    def _apply(
        self, doc: Document, steps, report, rejected, decisions=None, recorded=None
    ) -> Document | None:
        for k, (name, step) in enumerate(steps):
            if isinstance(step, BaseFilter):
                if self.replay is not None and name in REPLAYED_STEPS:
                    keep, reason = (
                        (False, recorded[1]) if recorded is not None and recorded[0] == k else (True, None)
                    )
                else:
                    with step.track_time():
                        result = step.filter(doc)
                    keep, reason = (result, None) if isinstance(result, bool) else result
                if not keep:
                    if decisions is not None and self.record is not None:
                        decisions.drop(k, reason or name)
                    self._drop(doc, name, reason or name, report, rejected)
                    return None
            else:
                out = list(step.run(iter([doc])))
                if not out:
                    self._drop(doc, name, "removed", report, rejected)
                    return None
                doc = out[0]
        redactions = doc.metadata.pop("redactions", None)
        if redactions and report is not None:
            for kind, n in redactions.items():
                report.redactions[kind] = report.redactions.get(kind, 0) + n
        if not doc.text.strip():
            self._drop(doc, "quality", "empty_after_steps", report, rejected)
            return None
        if self.dedup is not None:
            duplicate = self.dedup.check(doc.metadata["file_index"])
            if duplicate is not None:
                reason, of = duplicate
                self._drop(doc, "dedup", reason, report, rejected, duplicate_of=of)
                return None
        return doc

    def _drop(
        self, doc: Document, step: str, reason: str, report, rejected, duplicate_of: str | None = None
    ) -> None:
        self.stat_update(f"dropped_{step}_{reason}")
        if report is not None:
            report.drop(step, reason)
        if rejected is not None:
            rejected.write(doc, step, reason, duplicate_of)


class _Decisions:
    """One file's quality decisions at a time: recorded (``drop``, then ``save`` at the next file) or read
    back (``recorded``), by the document's position among the file's documents."""

    def __init__(self, folder: str, offset: int):
        self.folder, self.offset = Path(folder), offset
        self.index: int | None = None
        self.ordinal = -1
        self.dropped: dict[int, list] = {}

    def at_file(self, index: int, load: bool) -> None:
        if index != self.index:
            if not load and self.index is not None:
                self.save()
            self.index, self.ordinal = index, -1
            self.dropped = {}
            if load:
                path = self.folder / f"{self.offset + index}.json"
                self.dropped = {int(k): v for k, v in json.loads(path.read_text())["dropped"].items()}
        self.ordinal += 1

    def drop(self, step: int, reason: str) -> None:
        self.dropped[self.ordinal] = [step, reason]

    def recorded(self) -> tuple[int, str] | None:
        hit = self.dropped.get(self.ordinal)
        return (hit[0], hit[1]) if hit is not None else None

    def save(self) -> None:
        if self.index is not None:
            dropped = {str(k): v for k, v in sorted(self.dropped.items())}
            write_json_atomic(self.folder / f"{self.offset + self.index}.json", {"dropped": dropped})


class _RejectedWriter:
    """Rejected documents of one input file at a time, each file written whole and renamed into place."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.index: int | None = None
        self._file = None
        self._tmp: Path | None = None

    def at_file(self, index: int) -> None:
        if index != self.index:
            self.close()
            self.index = index

    def write(self, doc: Document, step: str, reason: str, duplicate_of: str | None = None) -> None:
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._tmp = self.folder / f".{self.index:08d}.tmp-{os.getpid()}"
            # no file name or time in the gzip header: the same documents give the same bytes
            self._fh = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()
            raw = gzip.GzipFile(filename="", mode="wb", fileobj=self._fh, compresslevel=3, mtime=0)
            self._file = io.TextIOWrapper(raw, encoding="utf-8")
        origin = doc.metadata.get("origin")
        record = {"id": doc.id, "step": step, "reason": reason, "origin": origin, "text": doc.text}
        if duplicate_of is not None:
            record["duplicate_of"] = duplicate_of  # "<source>:<id>" of the document that was kept
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()  # closes the gzip stream, which does not close the file it was given
            self._fh.close()
            os.replace(self._tmp, self.folder / f"{self.index:08d}.jsonl.gz")
            self._file = None
