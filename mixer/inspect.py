"""``mixer inspect``: what a build holds, and decoded documents from its shards."""

from __future__ import annotations

from pathlib import Path

from mixer.errors import MixerError
from mixer.manifest import read_manifest
from mixer.mixing.corpus import SourceCorpus
from mixer.report import summary_table
from mixer.shards import ShardFormatError


def inspect_output(folder: Path, *, source: str | None, count: int, doc: int | None, max_chars: int) -> str:
    from mixer.tokenizer import Encoder, load_tokenizer_info

    manifest = read_manifest(folder)
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
            cut = (
                text
                if len(text) <= max_chars
                else text[:max_chars] + f"... [{len(text) - max_chars} more chars]"
            )
            lines += ["", f"--- {name} document {i}: {len(ids)} tokens ---", cut]
    return "\n".join(lines)
