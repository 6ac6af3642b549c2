"""Resolve the recipe's ``tokenizer:`` into a tokenizer stored with the shards.

Whatever the recipe names (a file, a Hub model, or a BPE to train), the build keeps a copy at
``<output>/tokenizer/tokenizer.json``: shards are only meaningful with the exact tokenizer that made them,
and the trainer and ``mixer inspect`` read it from there.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mixer.errors import MixerError, PlanError
from mixer.sources.base import InputFile, SourceConfig

if TYPE_CHECKING:
    from mixer.build.plan import BuildPlan, Echo
    from mixer.recipe import TokenizerTraining
    from mixer.shards.tokenizer import TokenizerInfo

PROBE_BYTES = 500_000  # sample text on which the fast backend must match HF tokenizers exactly


def sample_texts(sources: list[tuple[str, SourceConfig, list[InputFile]]], max_bytes: int) -> Iterator[str]:
    """A deterministic sample of document texts: an even byte budget per source, spread over its files."""
    from mixer.readers.base import Skip

    per_source = max_bytes // max(len(sources), 1)
    for name, config, files in sources:
        reader = config.reader(name, files)
        per_file = max(per_source // max(len(files), 1), 1)
        taken_source = 0
        for index, f in enumerate(files):
            taken_file = 0
            for line, record in reader.sample_records(f.path):
                if isinstance(record, Skip):
                    continue
                doc = reader.document(record, f.path, index, line)
                if isinstance(doc, Skip):
                    continue
                text = doc.text[: per_file - taken_file]  # one huge document cannot swamp the sample
                yield text
                taken_file += len(text)
                if taken_file >= per_file:
                    break
            taken_source += taken_file
            if taken_source >= per_source:
                break


def train_on_sources(
    sources: list[tuple[str, SourceConfig, list[InputFile]]], train: TokenizerTraining, out: Path
) -> Path:
    """Train the byte-level BPE that ``train`` describes on an even sample of ``sources``."""
    from mixer.shards.tokenizer import train_bpe

    return train_bpe(
        sample_texts(sources, train.sample_bytes),
        vocab_size=train.vocab_size,
        special_tokens=train.special_tokens,
        min_frequency=train.min_frequency,
        out_path=out,
    )


def prepare_tokenizer(plan: BuildPlan, echo: Echo) -> TokenizerInfo:
    from mixer.shards.tokenizer import TokenizerError

    cfg = plan.recipe.tokenizer
    folder = plan.output / "tokenizer"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "tokenizer.json"
    sources = [(sp.name, sp.config, sp.inputs.files) for sp in plan.sources]
    try:
        if cfg.path is not None:
            # plan_build has checked that the file exists
            if not target.is_file() or target.read_bytes() != Path(cfg.path).read_bytes():
                shutil.copyfile(cfg.path, target)
        elif cfg.hub is not None:
            _fetch_from_hub(cfg.hub, target)
        else:
            train = cfg.train
            assert train is not None  # the recipe model guarantees one of the three
            settings = train.model_dump(mode="json")
            settings["sources"] = {name: [f.path for f in files] for name, _, files in sources}
            key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
            stamp = folder / "train.json"
            if not (target.is_file() and stamp.is_file() and json.loads(stamp.read_text()).get("key") == key):
                echo(
                    f"tokenizer: training a {train.vocab_size}-id byte-level BPE on {train.sample_bytes:,} bytes"
                )
                train_on_sources(sources, train, target)
                from mixer.atomic import write_json_atomic

                write_json_atomic(stamp, {"key": key, "settings": settings})
        probes = list(sample_texts(sources, PROBE_BYTES)) if cfg.backend != "hf" else []
        eos = cfg.eos or (cfg.train.special_tokens[0] if cfg.train is not None else None)
        return _checked_backend(target, eos, cfg.backend, probes, folder / "backend.json")
    except TokenizerError as e:
        raise MixerError(f"tokenizer: {e}") from None


def _checked_backend(
    target: Path, eos: str | None, backend: str, probes: list[str], cache: Path
) -> TokenizerInfo:
    """Load the tokenizer; the identity check of the fast backend runs once per tokenizer and probe sample.

    A rerun (or a resumed build) finds the verdict in ``tokenizer/backend.json``, keyed by the tokenizer's
    fingerprint and a hash of the probe texts, and skips re-encoding the probes with HF tokenizers.
    """
    import dataclasses

    from mixer.atomic import write_json_atomic
    from mixer.shards.tokenizer import fingerprint, load_tokenizer_info

    key = {
        "tokenizer": fingerprint(target),
        "probes": hashlib.sha256("\x00".join(probes).encode("utf-8", "surrogatepass")).hexdigest(),
        "requested": backend,
        "eos": eos,
    }
    if backend != "hf" and cache.is_file():
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            info = load_tokenizer_info(target, eos_token=eos, backend="hf")
            return dataclasses.replace(info, backend=cached["backend"], backend_reason=cached["reason"])
    info = load_tokenizer_info(target, eos_token=eos, backend=backend, probe_texts=probes)
    write_json_atomic(cache, {"key": key, "backend": info.backend, "reason": info.backend_reason})
    return info


def _fetch_from_hub(name: str, target: Path) -> None:
    """Download ``tokenizer.json`` of a Hub model; only ever reached when the recipe names ``tokenizer.hub``."""
    try:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_pretrained(name)
    except Exception as e:
        raise PlanError(f"tokenizer.hub: could not load '{name}' from the Hugging Face Hub: {e}") from None
    tmp = target.with_suffix(".json.tmp")
    tok.save(str(tmp))
    tmp.replace(target)
