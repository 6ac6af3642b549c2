"""``mixer inspect``: what a build holds, and decoded documents from its shards."""

from __future__ import annotations

from pathlib import Path

from mixer.errors import MixerError
from mixer.mixing.corpus import SourceCorpus
from mixer.report.console import summary_table
from mixer.shards.format import ShardFormatError
from mixer.shards.manifest import read_manifest


def _cut(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[:max_chars] + f"... [{len(text) - max_chars} more chars]"


def _source_names(manifest: dict, folder: Path, source: str | None) -> list[str]:
    names = list(manifest["sources"])
    if source is not None and source not in names:
        raise MixerError(f"no source '{source}' in {folder}; sources: {', '.join(names)}")
    return [source] if source else names


def inspect_rejected(folder: Path, *, source: str | None, count: int, max_chars: int) -> str:
    """Samples of the documents each source's quality steps dropped, with step and reason (newest build)."""
    import gzip
    import json

    manifest = read_manifest(folder)
    lines: list[str] = []
    for name in _source_names(manifest, folder, source):
        dropped = manifest["sources"][name].get("dropped", {})
        total = sum(n for reasons in dropped.values() for n in reasons.values())
        kept = Path(folder) / "rejected" / name
        if total and not kept.is_dir():
            lines.append(
                f"{name}: {total:,} documents dropped, none kept; set build.keep_rejected: true and build again"
            )
            continue
        lines.append(f"{name}: {total:,} rejected documents")
        shown = 0
        for file in sorted(kept.glob("*.jsonl.gz")) if kept.is_dir() else []:
            with gzip.open(file, "rt", encoding="utf-8") as f:
                for line in f:
                    if shown >= count:
                        break
                    r = json.loads(line)
                    lines += [
                        f"--- {r['step']} / {r['reason']}: {r['id']} ({r['origin']}) ---",
                        _cut(r["text"], max_chars),
                    ]
                    shown += 1
    return "\n".join(lines)


def inspect_output(folder: Path, *, source: str | None, count: int, doc: int | None, max_chars: int) -> str:
    from mixer.shards.tokenizer import Encoder, load_tokenizer_info

    manifest = read_manifest(folder)
    names = _source_names(manifest, folder, source)
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
    for name in names:
        try:
            docs = SourceCorpus(folder, name)
        except (FileNotFoundError, ShardFormatError) as e:
            raise MixerError(f"{e}; run `mixer build` again to rebuild the source") from None
        if doc is not None:
            if doc >= len(docs):
                raise MixerError(f"source '{name}' has {len(docs)} documents; --doc must be below that")
            picks = [doc]
        else:
            picks = list(range(min(count, len(docs))))
        for i in picks:
            ids = docs.document(i)
            text = encoder.decode([int(t) for t in ids])
            lines += ["", f"--- {name} document {i}: {len(ids)} tokens ---", _cut(text, max_chars)]
    return "\n".join(lines)
