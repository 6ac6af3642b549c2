"""The last step of every source pipeline: tokenize documents and write them as committed parts.

A task appends documents (EOS after each) to a *part*: an IndexedDataset under ``work/`` plus a JSON
sidecar naming the input files the part covers completely. The sidecar is written last and atomically,
so it is the commit point: a rerun skips every file some committed part covers and redoes the rest.
Parts roll over only at input-file boundaries, so a file is always wholly inside one part; the build
later concatenates parts in the canonical file order into the source's shards, which makes the output
independent of how many tasks produced it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from mixer.atomic import write_json_atomic
from mixer.readers.base import FileLedger, FileReport
from mixer.shards.format import IndexedDatasetWriter
from mixer.shards.tokenizer import Encoder

PROGRESS_INTERVAL_S = 2.0


def committed_parts(parts_dir: Path) -> list[dict]:
    """Sidecars of the parts committed so far (in name order)."""
    if not parts_dir.is_dir():
        return []
    out = []
    for sidecar in sorted(parts_dir.glob("p*.json")):
        with open(sidecar, encoding="utf-8") as f:
            out.append(json.load(f))
    return out


class _Part:
    """The part being written: its shard writer and what each input file put into it."""

    def __init__(self, prefix: Path, dtype: np.dtype):
        self.prefix = prefix
        self.writer = IndexedDatasetWriter(prefix, dtype)
        self.per_file: dict[int, list[int]] = {}  # file index -> [first document, documents, tokens]

    def add(self, tokens: np.ndarray, lengths: np.ndarray, file_indices: np.ndarray) -> None:
        first = self.writer.documents
        self.writer.add_documents(tokens, lengths)
        # documents of one file are contiguous and arrive in file order
        bounds = np.flatnonzero(np.diff(file_indices)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(file_indices)]])
        for s, e in zip(starts.tolist(), ends.tolist(), strict=False):
            entry = self.per_file.setdefault(int(file_indices[s]), [first + s, 0, 0])
            entry[1] += e - s
            entry[2] += int(lengths[s:e].sum())


class ShardPartWriter(PipelineStep):
    """Tokenize documents in batches and write them to committed parts (see the module docstring)."""

    name = "mixer tokenize + write"
    type = "💽 - WRITER"

    def __init__(
        self,
        source: str,
        work_dir: str,
        encoder: Encoder,
        dtype: str,
        ledger: FileLedger,
        part_tokens: int,
        batch_bytes: int,
    ):
        super().__init__()
        self.source = source
        self.work_dir = work_dir
        self.encoder = encoder
        self.dtype = np.dtype(dtype)
        self.ledger = ledger
        self.part_tokens = part_tokens
        self.batch_bytes = batch_bytes

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        work = Path(self.work_dir)
        parts_dir = work / "parts"
        self.ledger.reset()
        self._progress_path = work / "progress" / f"{rank:05d}.json"
        self._progress = {"documents": 0, "tokens": 0, "files": 0}
        self._last_progress = time.monotonic()

        part: _Part | None = None
        texts: list[str] = []
        files: list[int] = []
        pending_bytes = 0
        current_file = -1
        for doc in data:
            index = doc.metadata["file_index"]
            if index != current_file:
                if part is not None and part.writer.tokens >= self.part_tokens:
                    self._flush(part, texts, files)
                    texts, files, pending_bytes = [], [], 0
                    self._commit(part, parts_dir)
                    part = None
                current_file = index
            if part is None:
                part = _Part(parts_dir / f"p{index:08d}", self.dtype)
            texts.append(doc.text)
            files.append(index)
            pending_bytes += len(doc.text)
            if pending_bytes >= self.batch_bytes:
                self._flush(part, texts, files)
                texts, files, pending_bytes = [], [], 0
            else:
                self._write_progress()  # the bytes read so far, between batches too (at most every 2 s)
        if part is not None:
            self._flush(part, texts, files)
            self._commit(part, parts_dir)
        elif self.ledger.finished:  # files read, none of their records became a document
            first = min(r.index for r in self.ledger.finished)
            self._commit(_Part(parts_dir / f"p{first:08d}", self.dtype), parts_dir)
        self._write_progress(force=True)
        return
        yield  # a generator step that consumes everything and passes nothing on

    def _flush(self, part: _Part, texts: list[str], files: list[int]) -> None:
        if not texts:
            return
        with self.track_time():
            tokens, lengths = self.encoder.encode_with_eos(texts)
            part.add(tokens, lengths, np.asarray(files, dtype=np.int64))
        self.stat_update("documents", value=len(texts))
        self.stat_update("tokens", value=int(lengths.sum()))
        self._progress["documents"] += len(texts)
        self._progress["tokens"] += int(lengths.sum())
        self._write_progress()

    def _commit(self, part: _Part, parts_dir: Path) -> None:
        reports: list[FileReport] = self.ledger.take_finished()
        info = part.writer.finalize()
        entries = []
        for report in reports:
            first, docs, tokens = part.per_file.get(report.index, [0, 0, 0])
            entry = report.to_json()
            entry.update(first_document=first, written_documents=docs, tokens=tokens)
            entries.append(entry)
        missing = set(part.per_file) - {r.index for r in reports}
        if missing:  # a step between reader and writer buffered documents across files
            raise RuntimeError(f"part {part.prefix} holds documents of unfinished files {sorted(missing)}")
        sidecar = {
            "source": self.source,
            "prefix": part.prefix.name,
            "documents": info.documents,
            "tokens": info.tokens,
            "bin_sha256": info.bin_sha256,
            "idx_sha256": info.idx_sha256,
            "files": entries,
        }
        write_json_atomic(part.prefix.with_suffix(".json"), sidecar)
        self._progress["files"] += len(entries)
        self.stat_update("parts")

    def _write_progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            ledger = self.ledger  # what the reader has taken from its files (compressed bytes)
            read = {"files_read": ledger.files_read, "bytes": ledger.bytes_done + ledger.position}
            write_json_atomic(self._progress_path, {**self._progress, **read})
