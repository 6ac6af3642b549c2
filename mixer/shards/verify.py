"""``mixer verify``: is a build output complete and unchanged since the build wrote it?

Checks, in order, stopping at the first broken file:

1. the manifest: readable, totals equal the sum of its sources, the dtype fits the vocabulary;
2. every source shard against its sidecar (``NNNNN.json``): sizes, documents, tokens, sha256 of ``.bin`` and
   ``.idx``; the index itself (header, sizes, pointers that tile the ``.bin`` exactly, document indices);
   every token id below the vocabulary size; the source's ``assembled.json`` against its shards and the
   manifest;
3. the validation sets against ``validation.json`` (sha256, documents, tokens);
4. every phase blend: index arrays in range, samples per source as ``blend.json`` records them, and the
   blend's total.

``quick=True`` (what the trainer runs at start-up) skips the passes over token data (sha256, token range)
and keeps the structural checks, which read index files only.

Imports numpy and :mod:`mixer.shards.format` only, so the trainer can run it without the build stack.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mixer.errors import MixerError
from mixer.shards.format import IndexedDataset, ShardFormatError

CHUNK_BYTES = 64 << 20


class VerifyError(MixerError):
    """The first broken file and what is wrong with it."""

    def __init__(self, path: Path | str, problem: str):
        self.path, self.problem = Path(path), problem
        super().__init__(f"{path}: {problem}")


def verify_output(
    folder: Path, *, quick: bool = False, echo: Callable[[str], None] = lambda _: None
) -> dict[str, int]:
    """Run every check (see the module docstring); raise :class:`VerifyError` at the first failure."""
    folder = Path(folder)
    manifest = _manifest(folder)
    counts = {"shards": 0, "tokens": 0, "validation sets": 0, "phases": 0}
    vocab = int(manifest["tokenizer"]["vocab_size"])
    dtype = np.dtype(manifest["dtype"])
    for name, source in manifest["sources"].items():
        for shard in _source(folder, name, source, dtype, vocab, quick):
            counts["shards"] += 1
            counts["tokens"] += shard
        echo(f"ok  sources/{name}: {len(source['shards'])} shards, {source['tokens']:,} tokens")
    validation = folder / "validation" / "validation.json"
    if manifest.get("validation"):
        state = _json(validation)
        for name, summary in state["sources"].items():
            _validation_set(folder / "validation", name, summary, quick)
            counts["validation sets"] += 1
        echo(f"ok  validation: {counts['validation sets']} sets")
    for phase, summary in manifest.get("phases", {}).items():
        _phase(folder, phase, summary)
        counts["phases"] += 1
        echo(f"ok  phases/{phase}: {summary['samples']:,} samples")
    return counts


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise VerifyError(path, "missing: not a finished build (run `mixer build` to finish it)")
    manifest = _json(path)
    for key in ("tokenizer", "dtype", "sources", "totals"):
        if key not in manifest:
            raise VerifyError(path, f"no '{key}' key")
    sources = manifest["sources"].values()
    for key in ("documents", "tokens"):
        total = sum(s[key] for s in sources)
        if manifest["totals"][key] != total:
            raise VerifyError(
                path, f"totals.{key} is {manifest['totals'][key]:,} but the sources sum to {total:,}"
            )
    vocab, dtype = int(manifest["tokenizer"]["vocab_size"]), np.dtype(manifest["dtype"])
    if dtype.kind in "iu" and vocab - 1 > np.iinfo(dtype).max:
        raise VerifyError(path, f"dtype {dtype} cannot hold ids of a {vocab}-id vocabulary")
    return manifest


def _source(
    folder: Path, name: str, source: dict[str, Any], dtype: np.dtype, vocab: int, quick: bool
) -> Iterator[int]:
    shard_dir = folder / "sources" / name
    assembled = _json(shard_dir / "assembled.json")
    if assembled.get("fingerprint") != source.get("fingerprint"):
        raise VerifyError(
            shard_dir / "assembled.json",
            f"fingerprint {assembled.get('fingerprint')}, the manifest says {source.get('fingerprint')}: the "
            "source was rebuilt after the manifest was written; run the build again",
        )
    if [s["name"] for s in assembled["shards"]] != [s["name"] for s in source["shards"]]:
        raise VerifyError(shard_dir / "assembled.json", "its shard list differs from the manifest's")
    documents = tokens = 0
    for entry in assembled["shards"]:
        prefix = shard_dir / entry["name"]
        sidecar = _json(prefix.with_suffix(".json"))
        data = _open(prefix)
        if data.dtype != dtype:
            raise VerifyError(prefix.with_suffix(".idx"), f"dtype {data.dtype}, the manifest says {dtype}")
        _index_structure(prefix, data)
        for key, actual in (("documents", len(data)), ("tokens", data.num_tokens)):
            if sidecar[key] != actual or entry[key] != actual:
                raise VerifyError(
                    prefix.with_suffix(".idx"), f"{actual:,} {key}, its sidecar says {sidecar[key]:,}"
                )
        for suffix in (".bin", ".idx"):
            path = prefix.with_suffix(suffix)
            size = path.stat().st_size
            if sidecar[f"{suffix[1:]}_bytes"] != size:
                raise VerifyError(
                    path, f"{size:,} bytes, its sidecar says {sidecar[f'{suffix[1:]}_bytes']:,}"
                )
            if not quick and _sha256(path) != sidecar[f"{suffix[1:]}_sha256"]:
                raise VerifyError(path, "sha256 differs from its sidecar's: the file changed after the build")
        if not quick:
            _token_range(prefix.with_suffix(".bin"), data, vocab)
        documents += len(data)
        tokens += data.num_tokens
        yield data.num_tokens
    for key, actual in (("documents", documents), ("tokens", tokens)):
        if source[key] != actual or assembled[key] != actual:
            raise VerifyError(shard_dir, f"{actual:,} {key} in its shards, the manifest says {source[key]:,}")


def _index_structure(prefix: Path, data: IndexedDataset) -> None:
    idx = prefix.with_suffix(".idx")
    sizes = np.asarray(data.sizes, dtype=np.int64)
    if len(sizes) and sizes.min() < 0:
        raise VerifyError(idx, "a negative document size")
    expected = np.concatenate([[0], np.cumsum(sizes)[:-1]]) * data.dtype.itemsize if len(sizes) else sizes
    if not np.array_equal(np.asarray(data.pointers, dtype=np.int64), expected):
        first = int(np.flatnonzero(np.asarray(data.pointers) != expected)[0])
        raise VerifyError(idx, f"pointer of document {first} does not follow the previous document's end")
    if not np.array_equal(np.asarray(data.document_indices), np.arange(len(sizes) + 1)):
        raise VerifyError(idx, "document indices are not 0..N (one sequence per document)")


def _token_range(path: Path, data: IndexedDataset, vocab: int) -> None:
    tokens = data.token_range(0, len(data)) if len(data) else np.zeros(0, data.dtype)
    step = CHUNK_BYTES // data.dtype.itemsize
    for start in range(0, len(tokens), step):
        chunk = tokens[start : start + step]
        if len(chunk) and int(chunk.max()) >= vocab:
            at = start + int(np.argmax(chunk >= vocab))
            raise VerifyError(path, f"token {at} is id {int(tokens[at])}, outside the {vocab}-id vocabulary")


def _validation_set(folder: Path, name: str, summary: dict[str, Any], quick: bool) -> None:
    prefix = folder / name
    data = _open(prefix)
    _index_structure(prefix, data)
    if (len(data), data.num_tokens) != (summary["documents"], summary["tokens"]):
        raise VerifyError(prefix.with_suffix(".idx"), "documents or tokens differ from validation.json")
    if not quick and _sha256(prefix.with_suffix(".bin")) != summary["bin_sha256"]:
        raise VerifyError(prefix.with_suffix(".bin"), "sha256 differs from validation.json's")


def _phase(folder: Path, phase: str, summary: dict[str, Any]) -> None:
    pdir = folder / "phases" / phase
    blend = _json(pdir / "blend.json")
    if blend.get("fingerprint") != summary.get("fingerprint"):
        raise VerifyError(
            pdir / "blend.json",
            f"fingerprint {blend.get('fingerprint')}, the manifest says {summary.get('fingerprint')}: the blend "
            "was rewritten after the manifest was written; run `mixer mix` or the build again",
        )
    names = list(blend["source_order"])
    source = _npy(pdir / "blend_source.npy")
    sample = _npy(pdir / "blend_sample.npy")
    if (
        len(source) != blend["samples"]
        or len(sample) != blend["samples"]
        or summary["samples"] != blend["samples"]
    ):
        raise VerifyError(
            pdir / "blend_source.npy", f"{len(source):,} samples, blend.json says {blend['samples']:,}"
        )
    if len(source) and (source.min() < 0 or source.max() >= len(names)):
        raise VerifyError(pdir / "blend_source.npy", f"a source index outside 0..{len(names) - 1}")
    counts = np.bincount(np.asarray(source, dtype=np.int64), minlength=len(names))
    for i, name in enumerate(names):
        want = blend["sources"][name]["samples"]
        if counts[i] != want:
            raise VerifyError(
                pdir / "blend_source.npy", f"{counts[i]:,} samples of {name}, blend.json says {want:,}"
            )
        starts = _npy(pdir / f"{name}.samples.npy")
        order = _npy(pdir / f"{name}.order.npy")
        picked = np.asarray(sample)[np.asarray(source) == i]
        if len(picked) and (picked.min() < 0 or picked.max() >= len(starts)):
            raise VerifyError(
                pdir / "blend_sample.npy", f"a sample of {name} beyond its {len(starts):,} samples"
            )
        if len(starts) and (starts[:, 0].max() >= len(order) or starts[:, 0].min() < 0):
            raise VerifyError(pdir / f"{name}.samples.npy", "a sample starts outside the document order")
        documents = json.loads((folder / "sources" / name / "assembled.json").read_text())["documents"]
        if len(order) and (order.min() < 0 or order.max() >= documents):
            raise VerifyError(pdir / f"{name}.order.npy", f"a document id outside 0..{documents - 1}")


def _open(prefix: Path) -> IndexedDataset:
    try:
        return IndexedDataset(prefix)
    except ShardFormatError as e:
        raise VerifyError(prefix.with_suffix(".idx"), str(e).split(": ", 1)[-1]) from None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise VerifyError(path, "missing") from None
    except ValueError as e:
        raise VerifyError(path, f"not valid JSON ({e})") from None


def _npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r")
    except FileNotFoundError:
        raise VerifyError(path, "missing") from None
    except ValueError as e:
        raise VerifyError(path, f"not a readable .npy array ({e})") from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()
