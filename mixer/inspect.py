"""``mixer inspect``: what a build holds, and decoded documents from its shards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mixer.errors import MixerError
from mixer.report import summary_table
from mixer.shards import IndexedDataset, ShardFormatError


def load_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise MixerError(f"{folder}: no manifest.json; is it a finished `mixer build` output folder?")
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise MixerError(f"{path}: not valid JSON ({e}); rebuild to rewrite it") from None


class SourceDocuments:
    """The documents of one source across its shards, indexed 0..N-1 in shard order."""

    def __init__(self, folder: Path, name: str, entry: dict[str, Any]):
        self.shards = []
        self.starts = []
        total = 0
        for shard in entry["shards"]:
            prefix = folder / "sources" / name / shard["name"]
            try:
                self.shards.append(IndexedDataset(prefix))
            except ShardFormatError as e:
                raise MixerError(str(e)) from None
            self.starts.append(total)
            total += shard["documents"]
        self.total = total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, i: int):
        for start, ds in zip(reversed(self.starts), reversed(self.shards), strict=False):
            if i >= start:
                return ds[i - start]
        raise IndexError(i)


def inspect_output(folder: Path, *, source: str | None, count: int, doc: int | None, max_chars: int) -> str:
    from mixer.tokenizer import Encoder, load_tokenizer_info

    manifest = load_manifest(folder)
    names = list(manifest["sources"])
    if source is not None and source not in names:
        raise MixerError(f"no source '{source}' in {folder}; sources: {', '.join(names)}")
    tok = manifest["tokenizer"]
    lines = [
        f"{folder}: recipe {manifest['recipe']['name']} ({manifest['recipe']['hash'][:19]}), "
        f"tokenizer {tok['vocab_size']} ids, EOS {tok['eos_token']!r}={tok['eos_id']}, dtype {manifest['dtype']}",
        "",
        summary_table(manifest),
    ]
    encoder = Encoder(
        load_tokenizer_info(Path(folder) / tok["path"], eos_token=tok["eos_token"], backend="hf")
    )
    for name in [source] if source else names:
        docs = SourceDocuments(Path(folder), name, manifest["sources"][name])
        if doc is not None:
            if doc >= len(docs):
                raise MixerError(f"source '{name}' has {len(docs)} documents; --doc must be below that")
            picks = [doc]
        else:
            picks = list(range(min(count, len(docs))))
        for i in picks:
            ids = docs[i]
            text = encoder.decode([int(t) for t in ids])
            cut = (
                text
                if len(text) <= max_chars
                else text[:max_chars] + f"... [{len(text) - max_chars} more chars]"
            )
            lines += ["", f"--- {name} document {i}: {len(ids)} tokens ---", cut]
    return "\n".join(lines)
