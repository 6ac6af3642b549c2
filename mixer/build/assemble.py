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

One copy of the tokens: a part's files are deleted as soon as its documents are copied into the shard being
written, so a build's peak disk is its output plus about one part. Shards are written into
``<work>/assembling/``, each with its JSON sidecar once complete; a build stopped while assembling keeps the
shards it completed and carries on after the last of them. A part whose tokens went only into a shard that
was not completed is forgotten (:func:`forget_lost_parts`): its files are tokenized again, which gives the
same documents. The part sidecars (each file's counts) stay until the source is assembled.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from mixer.atomic import replace_dir, write_json_atomic, write_text_atomic
from mixer.build.stages.tokenize import committed_parts
from mixer.errors import BuildIncomplete
from mixer.shards.format import IndexedDataset, IndexedDatasetWriter, bin_path, idx_path
from mixer.sources.base import InputFile

ASSEMBLED = "assembled.json"
WORK_MARKER = "assembled"  # in the work folder: the fingerprint its build key assembled
STAGING = "assembling"  # in the work folder: the shards written so far
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
    def __init__(self, folder: Path, dtype: str, max_tokens: int, staged: list[dict[str, Any]]):
        self.folder, self.dtype, self.max_tokens = folder, np.dtype(dtype), max_tokens
        self.writer: IndexedDatasetWriter | None = None
        self.inputs: list[dict[str, Any]] = []
        self.shards = [
            {"name": s["name"], "documents": s["documents"], "tokens": s["tokens"]} for s in staged
        ]
        # per shard: name, sha256 of .bin and of .idx
        self.digests = [[s["name"], s["bin_sha256"], s["idx_sha256"]] for s in staged]

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
        write_json_atomic(info.prefix.with_suffix(".json"), sidecar)  # the shard is complete
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


def staged_shards(folder: Path) -> list[dict[str, Any]]:
    """The sidecars (with their ``name``) of the complete shards in a staging folder: 00000 onwards, up to
    the first one missing, unreadable or with files of the wrong size."""
    staged: list[dict[str, Any]] = []
    while True:
        prefix = folder / f"{len(staged):05d}"
        try:
            sidecar = json.loads(prefix.with_suffix(".json").read_text())
            whole = (
                bin_path(prefix).stat().st_size == sidecar["bin_bytes"]
                and idx_path(prefix).stat().st_size == sidecar["idx_bytes"]
            )
        except (OSError, ValueError, KeyError, TypeError):
            return staged
        if not whole:
            return staged
        staged.append({**sidecar, "name": prefix.name})


def _placed(staged: list[dict[str, Any]]) -> dict[int, int]:
    """Documents of each input file (by index) that complete staged shards hold."""
    placed: dict[int, int] = {}
    for shard in staged:
        for entry in shard["inputs"]:
            placed[entry["file_index"]] = placed.get(entry["file_index"], 0) + entry["documents"]
    return placed


def _has_tokens(parts_dir: Path, part: dict[str, Any]) -> bool:
    prefix = parts_dir / part["prefix"]
    return bin_path(prefix).is_file() and idx_path(prefix).is_file()


def forget_lost_parts(work: Path) -> int:
    """Forget (delete the sidecar of) every committed part whose tokens were deleted while assembling but
    are not all in a complete staged shard — a build stopped while assembling — so that its files are
    tokenized again. Returns the number of files forgotten."""
    parts_dir = work / "parts"
    placed = _placed(staged_shards(work / STAGING))
    forgotten = 0
    for part in committed_parts(parts_dir):
        if _has_tokens(parts_dir, part):
            continue
        if any(placed.get(f["index"], 0) != f["written_documents"] for f in part["files"]):
            (parts_dir / part["prefix"]).with_suffix(".json").unlink()
            forgotten += len(part["files"])
    return forgotten


def _clear_staging(folder: Path, complete: int) -> None:
    """Remove everything in the staging folder but its first ``complete`` shards (a shard being written
    when the build stopped, temporary files)."""
    keep = {f"{i:05d}{ext}" for i in range(complete) for ext in (".bin", ".idx", ".json")}
    for path in folder.iterdir():
        if path.name not in keep:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def assemble_source(
    name: str,
    work: Path,
    files: list[InputFile],
    shard_dir: Path,
    dtype: str,
    max_tokens_per_shard: int,
) -> dict[str, Any]:
    """Write ``shard_dir`` from the parts under ``work``, deleting each part's tokens once they are copied;
    return the source's summary (with its content fingerprint), and mark ``work`` as assembled."""
    parts_dir = work / "parts"
    by_file: dict[int, tuple[dict, dict]] = {}
    last_file: dict[str, int] = {}  # part prefix -> the last file (in canonical order) it holds
    for part in committed_parts(parts_dir):
        for entry in part["files"]:
            by_file[entry["index"]] = (part, entry)
            last_file[part["prefix"]] = max(last_file.get(part["prefix"], -1), entry["index"])
    missing = [i for i in range(len(files)) if i not in by_file]
    if missing:
        raise BuildIncomplete(
            f"source '{name}': {len(missing)} input files have no committed output "
            f"(first: {files[missing[0]].path}); rerun the build to resume"
        )

    staging = work / STAGING
    staging.mkdir(parents=True, exist_ok=True)
    staged = staged_shards(staging)
    _clear_staging(staging, len(staged))
    placed = _placed(staged)  # documents already in complete shards: a stopped assembly carries on after them
    roller = _ShardRoller(staging, dtype, max_tokens_per_shard, staged)
    opened: tuple[str, IndexedDataset] | None = None
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
        documents += entry["written_documents"]
        tokens += entry["tokens"]
        done = placed.get(i, 0)
        if entry["written_documents"] > done:
            if opened is None or opened[0] != part["prefix"]:  # parts are visited in order: keep one open
                opened = (part["prefix"], IndexedDataset(parts_dir / part["prefix"]))
            count = entry["written_documents"] - done
            roller.append_file(opened[1], entry["first_document"] + done, count, entry)
        if last_file[part["prefix"]] == i:  # every document of the part is copied: its tokens go
            opened = None
            for path in (bin_path(parts_dir / part["prefix"]), idx_path(parts_dir / part["prefix"])):
                path.unlink(missing_ok=True)
    roller.close()

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
    write_json_atomic(staging / ASSEMBLED, summary)
    # the marker first: stopped before the folder is in place, the next build finds every shard staged
    write_text_atomic(work / WORK_MARKER, summary["fingerprint"] + "\n")
    shard_dir.parent.mkdir(parents=True, exist_ok=True)
    replace_dir(staging, shard_dir)
    return summary


def clear_assembled_work(work: Path, keep_work: bool) -> None:
    """After a source is assembled: remove its part sidecars, the work copy of its rejected documents and its
    progress files, unless ``build.keep_work`` (its tokens are gone already: they are in the shards)."""
    if keep_work:
        return
    for name in ("parts", "rejected", "progress"):
        shutil.rmtree(work / name, ignore_errors=True)
