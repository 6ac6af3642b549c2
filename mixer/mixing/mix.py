"""``mixer mix``: held-out validation sets and every phase's blend, from a build's source shards.

Only index files are written, never tokens (except the small validation copies), so changing weights,
tokens, seq_len or the seed re-blends in seconds without touching the tokenizer. A phase whose inputs
are unchanged (same settings, seed, holdout and source shards) is kept as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixer.atomic import replace_dir
from mixer.mixing.blend import megatron_args, write_phase
from mixer.mixing.corpus import SourceCorpus
from mixer.mixing.holdout import holdout_documents, write_validation
from mixer.mixing.targets import PhaseTargets, phase_targets
from mixer.recipe import RecipeBase


@dataclass
class SourceSplit:
    corpus: SourceCorpus
    fingerprint: str
    sizes: np.ndarray
    held: np.ndarray  # held-out document ids
    training: np.ndarray  # the rest

    @property
    def training_tokens(self) -> int:
        return int(self.sizes.sum() - self.sizes[self.held].sum())


def _hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def split_sources(output: Path, recipe: RecipeBase) -> dict[str, SourceSplit]:
    splits = {}
    for name in recipe.sources:  # type: ignore[attr-defined]
        corpus = SourceCorpus(output, name)
        sizes = corpus.sizes()
        held = holdout_documents(name, len(corpus), recipe.holdout, recipe.seed)
        mask = np.ones(len(corpus), dtype=bool)
        mask[held] = False
        splits[name] = SourceSplit(
            corpus, corpus.fingerprint, sizes, held, np.flatnonzero(mask).astype(np.int64)
        )
    return splits


def text_bytes_counter(tokenizer_json: Path, eos_id: int) -> Callable[[np.ndarray], int]:
    """Tokens of one document (ending in EOS) -> the UTF-8 bytes of its text, by decoding them."""
    from mixer.shards.tokenizer import Encoder, load_tokenizer_info

    encoder = Encoder(load_tokenizer_info(tokenizer_json, backend="hf"))

    def count(doc: np.ndarray) -> int:
        ids = doc[:-1] if len(doc) and int(doc[-1]) == eos_id else doc
        return len(encoder.decode(ids).encode("utf-8", "surrogatepass"))

    return count


def all_targets(recipe: RecipeBase, splits: dict[str, SourceSplit]) -> dict[str, PhaseTargets]:
    """Every phase's per-source samples; raises InfeasibleMix naming the first phase that cannot be met."""
    available = {n: s.training_tokens for n, s in splits.items()}
    return {
        phase: phase_targets(phase, cfg.tokens, cfg.seq_len, cfg.weights, available, cfg.max_repetition)
        for phase, cfg in recipe.phases.items()
    }


def mix(
    output: Path,
    recipe: RecipeBase,
    dtype: str,
    echo: Callable[[str], None] = print,
    text_bytes: Callable[[np.ndarray], int] | None = None,
) -> dict[str, Any]:
    """Write ``validation/`` and ``phases/<phase>/``; return their summaries for the manifest.

    ``text_bytes`` (tokens of a document -> UTF-8 bytes of its text) adds byte counts to the validation
    sets, for the trainer's bits-per-byte; builds pass :func:`text_bytes_counter` of their tokenizer.
    """
    splits = split_sources(output, recipe)
    targets = all_targets(recipe, splits)  # fail before writing anything
    holdout_key = _hash(
        {
            "seed": recipe.seed,
            "holdout": recipe.holdout.model_dump(),
            "sources": {n: s.fingerprint for n, s in splits.items()},
            "bytes": text_bytes is not None,
        }
    )

    validation_dir = output / "validation"
    state_file = validation_dir / "validation.json"
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    if state.get("key") != holdout_key:
        tmp = output / f".validation.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        sets = {
            n: write_validation(s.corpus, s.held, tmp, np.dtype(dtype), text_bytes) for n, s in splits.items()
        }
        state = {"key": holdout_key, "holdout": recipe.holdout.model_dump(), "sources": sets}
        state = json.loads(json.dumps(state, sort_keys=True))  # the same key order a rerun reads back
        (tmp / "validation.json").write_text(json.dumps(state, indent=1) + "\n")
        replace_dir(tmp, validation_dir)
        echo(f"validation: held out {sum(v['documents'] for v in sets.values()):,} documents")

    phases_dir = output / "phases"
    phases_dir.mkdir(exist_ok=True)
    blends = {}
    for phase, cfg in recipe.phases.items():
        config = cfg.model_dump(exclude={"train"})  # training settings do not change the blend
        key = _hash({"phase": phase, "config": config, "seed": recipe.seed, "holdout": holdout_key})
        blend_file = phases_dir / phase / "blend.json"
        if blend_file.is_file() and json.loads(blend_file.read_text()).get("fingerprint") == key:
            blends[phase] = json.loads(blend_file.read_text())
            echo(f"{phase}: blend up to date ({blends[phase]['samples']:,} samples)")
            continue
        tmp = phases_dir / f".{phase}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        used = [t.name for t in targets[phase].sources]
        blend = write_phase(
            tmp,
            targets[phase],
            recipe.seed,
            {n: splits[n].sizes for n in used},
            {n: splits[n].training for n in used},
            key,
        )
        shard_tokens = {
            n: [(f"sources/{n}/{s.prefix.name}", s.num_tokens) for s in splits[n].corpus.shards] for n in used
        }
        (tmp / "megatron.args").write_text(megatron_args(output, blend, shard_tokens))
        replace_dir(tmp, phases_dir / phase)
        blends[phase] = blend
        echo(
            f"{phase}: blended {blend['samples']:,} samples of {cfg.seq_len + 1} tokens from {len(used)} sources"
        )
    for stale in phases_dir.iterdir():
        if stale.is_dir() and stale.name not in recipe.phases:
            shutil.rmtree(stale)
    return {"validation": state["sources"], "phases": blends}
