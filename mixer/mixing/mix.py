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

from mixer.atomic import replace_dir, write_text_atomic
from mixer.mixing.blend import index_bytes, megatron_args, phase_cost, write_phase
from mixer.mixing.corpus import SourceCorpus
from mixer.mixing.holdout import holdout_documents, write_validation
from mixer.mixing.targets import InfeasibleMix, PhaseTargets, phase_targets
from mixer.recipe import PhaseConfig, RecipeBase


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
    for phase, cfg in recipe.phases.items():
        for name in cfg.weights:
            if available[name] == 0:
                corpus = splits[name].corpus
                key = "content_key" if hasattr(recipe.sources[name], "content_key") else "text_key"  # type: ignore[attr-defined]
                details = corpus.folder / "assembled.json"
                raise InfeasibleMix(empty_source_message(phase, name, corpus.summary, key, details))
    return {
        phase: phase_targets(phase, cfg.tokens, cfg.seq_len, cfg.weights, available, cfg.max_repetition)
        for phase, cfg in recipe.phases.items()
    }


def empty_source_message(
    phase: str, name: str, summary: dict[str, Any], key: str = "text_key", details: Path | None = None
) -> str:
    """Why a weighted source has no training tokens (from its ``assembled.json``), and what to change.

    (A source with documents always keeps one for training: only a source without documents gets here.)
    ``key``: the recipe key naming the field its text is read from.
    """
    records = summary.get("records", 0)
    skipped: dict[str, int] = summary.get("skipped", {})
    examples: dict[str, list[str]] = summary.get("skip_examples", {})
    dropped: dict[str, dict[str, int]] = summary.get("dropped", {})

    def by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
        return sorted(counts.items(), key=lambda x: (-x[1], x[0]))

    parts = []
    if skipped:
        listed = ", ".join(
            f"{reason} {n:,}" + (f", e.g. {examples[reason][0]}" if examples.get(reason) else "")
            for reason, n in by_count(skipped)
        )
        parts.append(f"skipped: {listed}")
    for step, reasons in sorted(dropped.items()):
        parts.append(f"dropped by {step}: " + ", ".join(f"{r} {n:,}" for r, n in by_count(reasons)))
    if parts:
        why = f"its {records:,} records gave 0 documents ({'; '.join(parts)})"
    else:
        why = "its inputs hold no records"
    fixes = []
    if {"missing_text_field", "missing_text_column", "missing_content_field"} & set(skipped):
        fixes.append(f"set sources.{name}.{key} to the field that holds the text")
    if "dedup" in dropped:
        fixes.append(f"list '{name}' first in dedup.priority to keep its copies of shared documents")
    if set(dropped) - {"dedup"}:
        fixes.append(f"loosen sources.{name}.filters")
    if not parts:
        fixes.append(f"check the inputs of sources.{name}")
    fixes.append(f"remove '{name}' from phases.{phase}.weights")
    fix = ", or ".join(fixes)
    more = f" (details: {details})" if details is not None else ""
    return f"phase '{phase}': source '{name}' has no training tokens: {why}. {fix[0].upper()}{fix[1:]}{more}"


def check_phase_size(phase: str, cfg: PhaseConfig, cost: dict[str, int], sources: int) -> None:
    """Refuse a phase whose blend index would exceed ``phases.<phase>.max_index_bytes``."""
    bound = cfg.max_index_bytes
    if bound is None or cost["index_bytes"] <= bound:
        return
    floor = index_bytes(cost["samples"], sources)
    epochs = f"; the most repeated source is read {cost['epochs']:,} times" if cost["epochs"] > 1 else ""
    raise InfeasibleMix(
        f"phase '{phase}': its blend index would take up to {size_text(cost['index_bytes'])}: "
        f"{cost['samples']:,} samples ({size_text(floor)}) and {cost['documents_in_order']:,} documents in "
        f"the shuffled source streams{epochs}. That is more than phases.{phase}.max_index_bytes "
        f"({size_text(bound)}): lower phases.{phase}.tokens or max_repetition, or raise "
        f"phases.{phase}.max_index_bytes (null: no bound) if the phase is meant to be this large"
    )


def size_text(n: int) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def mix(
    output: Path,
    recipe: RecipeBase,
    dtype: str,
    echo: Callable[[str], None] = print,
    text_bytes: Callable[[np.ndarray], int] | None = None,
    data_root: str | None = None,
) -> dict[str, Any]:
    """Write ``validation/`` and ``phases/<phase>/``; return their summaries for the manifest.

    ``text_bytes`` (tokens of a document -> UTF-8 bytes of its text) adds byte counts to the validation
    sets, for the trainer's bits-per-byte; builds pass :func:`text_bytes_counter` of their tokenizer.
    ``data_root``: the folder that ``megatron.args`` names the shards under (default: ``output``'s
    absolute path; ``.`` names them relative to the build folder).
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

    phases_dir = output / "phases"
    keys = {
        phase: _hash(
            {
                "phase": phase,
                # training settings and the size bound do not change the blend
                "config": cfg.model_dump(exclude={"train", "max_index_bytes"}),
                "seed": recipe.seed,
                "holdout": holdout_key,
            }
        )
        for phase, cfg in recipe.phases.items()
    }
    for phase, cfg in recipe.phases.items():
        if _blend_fingerprint(phases_dir / phase) != keys[phase]:
            training = {n: len(splits[n].training) for n in cfg.weights}
            check_phase_size(phase, cfg, phase_cost(targets[phase], training), len(cfg.weights))

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

    phases_dir.mkdir(exist_ok=True)
    blends = {}
    for phase, cfg in recipe.phases.items():
        key = keys[phase]
        blend_file = phases_dir / phase / "blend.json"
        if _blend_fingerprint(phases_dir / phase) == key:
            blends[phase] = json.loads(blend_file.read_text())
            shards = _shard_tokens(splits, blends[phase]["source_order"])
            args = megatron_args(output, blends[phase], shards, data_root)
            args_file = phases_dir / phase / "megatron.args"
            if not args_file.is_file() or args_file.read_text() != args:  # a new --data-root
                write_text_atomic(args_file, args)
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
        (tmp / "megatron.args").write_text(
            megatron_args(output, blend, _shard_tokens(splits, used), data_root)
        )
        replace_dir(tmp, phases_dir / phase)
        blends[phase] = blend
        written = sum(f.stat().st_size for f in (phases_dir / phase).glob("*.npy"))
        echo(
            f"{phase}: blended {blend['samples']:,} samples of {cfg.seq_len + 1} tokens from {len(used)} sources "
            f"(index {size_text(written)})"
        )
    for stale in phases_dir.iterdir():
        if stale.is_dir() and stale.name not in recipe.phases:
            shutil.rmtree(stale)
    return {"validation": state["sources"], "phases": blends}


def _blend_fingerprint(folder: Path) -> str | None:
    try:
        return json.loads((folder / "blend.json").read_text()).get("fingerprint")
    except (OSError, ValueError):
        return None


def _shard_tokens(splits: dict[str, SourceSplit], names: list[str]) -> dict[str, list[tuple[str, int]]]:
    return {
        n: [(f"sources/{n}/{s.prefix.name}", s.num_tokens) for s in splits[n].corpus.shards] for n in names
    }
