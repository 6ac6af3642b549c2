"""Concatenate a source's committed parts, in canonical input order, into its final shards.

Parts are written by tasks in whatever order the executor ran them; this step reads each input file's
document range from the part that holds it and appends the raw token bytes to the current shard,
rolling over before ``max_tokens_per_shard`` (documents are never split; a document longer than the
limit gets a shard of its own). Shards are written into a fresh folder that replaces the old one only
when complete, with ``assembled.json`` written last: its presence means the folder is whole.

Two keys tell what a shard folder is. Its ``fingerprint`` (in ``assembled.json``, and from there in the
manifest, the validation sets, the blends and the trainer's checkpoints) is a hash of what the folder
holds — every shard's sha256 and the source's counts — so the same inputs give the same fingerprint on
any machine, whatever the paths and modification times of the inputs. The *build key* (the work folder's
name, from the recipe block, the inputs' paths, sizes and modification times and the tokenizer) decides
whether the folder is current; a marker in the work folder, ``work/sources/<source>/<key>/assembled``,
records which fingerprint that key assembled.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from mixer.atomic import replace_dir, write_json_atomic, write_text_atomic
from mixer.build.stages.tokenize import committed_parts
from mixer.errors import BuildIncomplete
from mixer.shards.format import IndexedDataset, IndexedDatasetWriter
from mixer.sources.base import InputFile

ASSEMBLED = "assembled.json"
WORK_MARKER = "assembled"  # in the work folder: the fingerprint its build key assembled
COPY_TOKENS = 1 << 20  # tokens copied per read while assembling


def read_assembled(shard_dir: Path, work: Path) -> dict[str, Any] | None:
    """The summary of a complete shard folder assembled from the work folder ``work``, else None."""
    try:
        data = json.loads((shard_dir / ASSEMBLED).read_text())
        assembled_from = (work / WORK_MARKER).read_text().strip()
    except (OSError, ValueError):
        return None
    return data if data.get("fingerprint") == assembled_from else None


def content_fingerprint(summary: dict[str, Any], digests: list[list[str]]) -> str:
    """A hash of a source's shards (their sha256s) and its counts: what the shard folder holds."""
    data = json.dumps({"summary": summary, "shards": digests}, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()[:16]


class _ShardRoller:
    def __init__(self, folder: Path, dtype: str, max_tokens: int):
        self.folder, self.dtype, self.max_tokens = folder, np.dtype(dtype), max_tokens
        self.writer: IndexedDatasetWriter | None = None
        self.inputs: list[dict[str, Any]] = []
        self.shards: list[dict[str, Any]] = []
        self.digests: list[list[str]] = []  # per shard: name, sha256 of .bin and of .idx

    def _open(self) -> IndexedDatasetWriter:
        if self.writer is None:
            self.writer = IndexedDatasetWriter(self.folder / f"{len(self.shards):05d}", self.dtype)
            self.inputs = []
        return self.writer

    def close(self) -> None:
        if self.writer is None:
            return
        info = self.writer.finalize()
        sidecar = {
            "documents": info.documents,
            "tokens": info.tokens,
            "dtype": info.dtype,
            "bin_sha256": info.bin_sha256,
            "idx_sha256": info.idx_sha256,
            "bin_bytes": info.bin_bytes,
            "idx_bytes": info.idx_bytes,
            "inputs": self.inputs,
        }
        write_json_atomic(info.prefix.with_suffix(".json"), sidecar)
        self.shards.append({"name": info.prefix.name, "documents": info.documents, "tokens": info.tokens})
        self.digests.append([info.prefix.name, info.bin_sha256, info.idx_sha256])
        self.writer = None

    def append_file(self, part: IndexedDataset, first: int, count: int, entry: dict[str, Any]) -> None:
        sizes = np.asarray(part.sizes[first : first + count], dtype=np.int64)
        start = 0
        while start < count:
            writer = self._open()
            room = self.max_tokens - writer.tokens
            cumulative = np.cumsum(sizes[start:])
            fit = int(np.searchsorted(cumulative, room, side="right"))
            if fit == 0:
                if writer.documents:
                    self.close()
                    continue
                fit = 1  # a document longer than a shard gets a shard of its own
            self.inputs.append(
                {
                    "path": entry["path"],
                    "file_index": entry["index"],
                    "first_document": writer.documents,
                    "documents": fit,
                    "tokens": int(sizes[start : start + fit].sum()),
                }
            )
            # copy in bounded chunks: memory stays flat however large the part
            done = start
            while done < start + fit:
                span = np.cumsum(sizes[done : start + fit])
                take = max(int(np.searchsorted(span, COPY_TOKENS, side="right")), 1)
                data = part.read_bytes(first + done, first + done + take)
                writer.add_raw(data, sizes[done : done + take])
                done += take
            start += fit
            if writer.tokens >= self.max_tokens:
                self.close()


def assemble_source(
    name: str,
    work: Path,
    files: list[InputFile],
    shard_dir: Path,
    dtype: str,
    max_tokens_per_shard: int,
) -> dict[str, Any]:
    """Write ``shard_dir`` from the parts under ``work``; return the source's summary (with its content
    fingerprint), and mark ``work`` as assembled."""
    by_file: dict[int, tuple[dict, dict]] = {}
    for part in committed_parts(work / "parts"):
        for entry in part["files"]:
            by_file[entry["index"]] = (part, entry)
    missing = [i for i in range(len(files)) if i not in by_file]
    if missing:
        raise BuildIncomplete(
            f"source '{name}': {len(missing)} input files have no committed output "
            f"(first: {files[missing[0]].path}); rerun the build to resume"
        )

    tmp = shard_dir.with_name(f".{shard_dir.name}.assembling-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    roller = _ShardRoller(tmp, dtype, max_tokens_per_shard)
    opened: dict[str, IndexedDataset] = {}
    skipped: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    dropped: dict[str, dict[str, int]] = {}
    redactions: dict[str, int] = {}
    records = documents = tokens = 0
    for i in range(len(files)):
        part, entry = by_file[i]
        records += entry["records"]
        for step, reasons in entry.get("dropped", {}).items():
            into = dropped.setdefault(step, {})
            for reason, n in reasons.items():
                into[reason] = into.get(reason, 0) + n
        for kind, n in entry.get("redactions", {}).items():
            redactions[kind] = redactions.get(kind, 0) + n
        for reason, n in entry["skipped"].items():
            skipped[reason] = skipped.get(reason, 0) + n
            bucket = examples.setdefault(reason, [])
            bucket.extend(entry["skip_examples"].get(reason, [])[: max(0, 20 - len(bucket))])
        if entry["written_documents"] == 0:
            continue
        prefix = str(work / "parts" / part["prefix"])
        if prefix not in opened:
            opened.clear()  # parts are visited mostly in order; keep one open
            opened[prefix] = IndexedDataset(prefix)
        roller.append_file(opened[prefix], entry["first_document"], entry["written_documents"], entry)
        documents += entry["written_documents"]
        tokens += entry["tokens"]
    roller.close()
    opened.clear()

    summary = {
        "source": name,
        "records": records,
        "documents": documents,
        "tokens": tokens,
        "skipped": dict(sorted(skipped.items())),
        "skip_examples": dict(sorted(examples.items())),
        "dropped": dropped,
        "redactions": redactions,
        "shards": roller.shards,
    }
    summary["fingerprint"] = content_fingerprint(summary, roller.digests)
    summary = json.loads(json.dumps(summary, sort_keys=True))  # the key order a rerun reads back
    write_json_atomic(tmp / ASSEMBLED, summary)
    replace_dir(tmp, shard_dir)
    # after the folder is in place: a kill in between only assembles the folder again
    write_text_atomic(work / WORK_MARKER, summary["fingerprint"] + "\n")
    return summary
