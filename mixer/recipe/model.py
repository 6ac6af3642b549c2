"""The recipe: what to build, validated before any work and hashed so outputs know where they came from.

Recipes are YAML documents loaded into pydantic models. pydantic was chosen over dataclasses because it
gives, for free, the three things a recipe needs most: rejection of unknown keys, error locations as
key paths (``sources.web.paths[0]``), and a JSON Schema for editors (``mixer schema``).

This module imports only pydantic and PyYAML (plus the source kinds' models), so the trainer can load a
recipe on a GPU machine that lacks the build stack.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from mixer.errors import RecipeError
from mixer.recipe.yamlload import KeyPath, YamlError, format_path, load_yaml
from mixer.sources.base import SourceConfig, StrictModel, source_types

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class TokenizerTraining(StrictModel):
    """Train a GPT-2-style byte-level BPE on a sample of the recipe's sources."""

    vocab_size: int = Field(ge=260, le=1_000_000, description="Vocabulary size, special tokens included.")
    sample_bytes: int = Field(
        default=20_000_000, gt=0, description="Bytes of text sampled (evenly across sources) to train on."
    )
    min_frequency: int = Field(default=2, ge=1, description="Minimum pair frequency for a merge.")
    special_tokens: list[str] = Field(
        default=["<|endoftext|>"], min_length=1, description="Special tokens; the first is the EOS token."
    )


class TokenizerConfig(StrictModel):
    """Which tokenizer turns text into ids. Give exactly one of ``path``, ``hub`` or ``train``."""

    path: str | None = Field(default=None, description="Path to a Hugging Face `tokenizer.json`.")
    hub: str | None = Field(default=None, description="Hugging Face Hub model name (downloads it).")
    train: TokenizerTraining | None = Field(default=None, description="Train a byte-level BPE.")
    eos: str | None = Field(
        default=None, description="EOS token appended to every document (detected if unset)."
    )
    backend: Literal["auto", "hf", "tiktoken"] = Field(
        default="auto",
        description="Encoding backend. `auto` uses tiktoken when it gives ids identical to HF tokenizers.",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _exactly_one(self) -> TokenizerConfig:
        given = [k for k in ("path", "hub", "train") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of tokenizer.path (a tokenizer.json), tokenizer.hub (a Hub name) "
                f"or tokenizer.train (train a BPE); got {', '.join(given) or 'none'}"
            )
        return self


class SlurmSettings(StrictModel):
    partition: str = Field(description="Slurm partition to submit to.")
    time: str = Field(default="24:00:00", description="Time limit per task.")
    cpus_per_task: int = Field(default=1, ge=1)
    mem_per_cpu_gb: int = Field(default=2, ge=1)
    qos: str | None = None
    sbatch_args: dict[str, str] = Field(default_factory=dict, description="Extra #SBATCH options.")
    env_command: str | None = Field(default=None, description="Shell command run before each task.")


class RaySettings(StrictModel):
    address: str | None = Field(
        default=None, description="Ray cluster address; a local Ray starts when unset."
    )
    cpus_per_task: int = Field(default=1, ge=1)


class ExecutorConfig(StrictModel):
    """Where the pipeline runs: datatrove's local, Ray or Slurm executor."""

    type: Literal["local", "ray", "slurm"] = "local"
    tasks: int | None = Field(
        default=None,
        ge=1,
        description="Tasks per source (default: 8 per worker, at most one per input file).",
    )
    workers: int | None = Field(default=None, ge=1, description="Tasks run at once (default: the CPU count).")
    slurm: SlurmSettings | None = None
    ray: RaySettings | None = None

    @model_validator(mode="after")
    def _settings_match(self) -> ExecutorConfig:
        if self.type == "slurm" and self.slurm is None:
            raise ValueError("executor.type is slurm: add an executor.slurm block (at least its partition)")
        return self


class BuildSettings(StrictModel):
    max_tokens_per_shard: int = Field(
        default=1_000_000_000,
        gt=0,
        description="A source shard rolls over before exceeding this many tokens.",
    )
    batch_bytes: int = Field(default=4_000_000, gt=0, description="Text tokenized per batch by each task.")
    max_document_chars: int = Field(
        default=100_000_000,
        gt=0,
        description="A longer document is skipped (counted as document_too_large), not tokenized.",
    )
    keep_rejected: bool = Field(
        default=False,
        description="Write every document a quality step drops, with its reason, to rejected/<source>/.",
    )
    keep_work: bool = Field(
        default=False,
        description="Keep the dedup signatures and candidate pairs, the part sidecars and the work copy of "
        "the rejected documents under work/ after the build (for debugging; tokens are never kept twice).",
    )


MAX_INDEX_BYTES = 4_000_000_000  # the default bound of a phase's blend index (phases.<p>.max_index_bytes)

MODEL_PRESETS = ("tiny", "125m", "470m", "2.8b")  # mixer.trainer.model.PRESETS (a test keeps them equal)


class TrainSettings(StrictModel):
    """How ``mixer train`` trains on one phase (``phases.<phase>.train``); every key has a default.

    Overridable from the command line (``--model``, ``--max-steps``, ``--set key=value``) or replaced by
    a separate YAML file (``--train-config``).
    """

    model: Literal["tiny", "125m", "470m", "2.8b"] = Field(
        default="125m", description="Model preset (see mixer/trainer/model.py for the shapes)."
    )
    tie_embeddings: bool = Field(default=False, description="Share the input embedding and the output head.")
    global_batch_tokens: int = Field(
        default=524_288,
        gt=0,
        description="Tokens per optimizer step over all processes (a multiple of seq_len).",
    )
    micro_batch: int = Field(default=8, gt=0, description="Sequences per forward pass in each process.")
    schedule: Literal["warmup_cosine", "warmup_stable_decay", "linear_decay"] | None = Field(
        default=None,
        description="LR schedule; default linear_decay when the run starts from --init-from (a cooldown), "
        "else warmup_cosine.",
    )
    lr: float = Field(default=3e-4, gt=0, description="Peak learning rate (linear_decay: its start).")
    min_lr: float | None = Field(
        default=None, ge=0, description="Final learning rate; default lr / 10, or 0 for linear_decay."
    )
    warmup_steps: int | None = Field(
        default=None, ge=0, description="Linear warmup steps; default 1% of the run's steps (at least 1)."
    )
    decay_fraction: float = Field(
        default=0.2, ge=0, le=1, description="warmup_stable_decay: share of the steps spent decaying."
    )
    start_lr: float | Literal["init"] = Field(
        default="init",
        description="linear_decay from --init-from: 'init' starts where that run's schedule ended, or a value.",
    )
    weight_decay: float = Field(default=0.1, ge=0, description="AdamW weight decay (matrices only).")
    beta1: float = Field(default=0.9, ge=0, lt=1)
    beta2: float = Field(default=0.95, ge=0, lt=1)
    eps: float = Field(default=1e-8, gt=0)
    grad_clip: float = Field(default=1.0, ge=0, description="Clip the global gradient norm (0: off).")
    precision: Literal["auto", "bf16", "fp32"] = Field(
        default="auto", description="Autocast dtype; auto is bf16 on GPU, fp32 on CPU."
    )
    compile: bool | None = Field(default=None, description="torch.compile the model; default on GPU only.")
    parallelism: Literal["ddp", "fsdp"] = Field(
        default="ddp", description="Data parallelism under torchrun: DDP, or FSDP2 (fully_shard)."
    )
    activation_checkpointing: bool = Field(default=False, description="Recompute blocks in the backward.")
    max_steps: int | None = Field(
        default=None, gt=0, description="Train only the phase's first N steps; the LR schedule spans these N."
    )
    eval_interval: int = Field(default=500, gt=0, description="Steps between validation passes.")
    eval_tokens: int = Field(
        default=262_144, gt=0, description="At most this many validation tokens per source per pass."
    )
    checkpoint_interval: int = Field(default=1000, gt=0, description="Steps between checkpoints.")
    keep_checkpoints: int = Field(
        default=2, ge=1, description="Step checkpoints kept (final is always kept)."
    )
    log_interval: int = Field(default=10, gt=0, description="Steps between progress lines.")
    seed: int | None = Field(
        default=None, ge=0, description="Model initialisation seed; default the recipe's."
    )
    peak_tflops: float | None = Field(
        default=None, gt=0, description="The device's peak TFLOP/s for MFU (default: looked up by name)."
    )
    # How the trainer runs a step: its speed and memory, never its result beyond float rounding
    # (docs/training.md, "Speed settings").
    prefetch: bool = Field(
        default=True,
        description="Read the next global batch on a background thread while the current one trains.",
    )
    loss_chunk_tokens: int = Field(
        default=8192,
        ge=0,
        description="Compute the output head and the loss this many positions at a time, never holding the "
        "full fp32 logits (0: full logits, then the loss).",
    )
    attention: Literal["auto", "cudnn", "flash", "efficient", "math"] = Field(
        default="auto",
        description="The scaled-dot-product-attention backend to try first (auto: torch's own order).",
    )
    compile_scope: Literal["blocks", "model"] = Field(
        default="blocks",
        description="With compile: compile one transformer block (reused by all), the final norm and the loss "
        "chunk (blocks), or the whole forward as one graph (model).",
    )
    compile_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = Field(
        default="default", description="torch.compile's mode (the autotuning modes compile for much longer)."
    )
    save_checkpoints: bool = Field(
        default=True,
        description="Write step and final checkpoints (false: a throughput run that keeps no weights).",
    )
    profile_at: int | None = Field(
        default=None,
        gt=0,
        description="Profile steps profile_at .. profile_at + profile_steps - 1 with torch.profiler into "
        "<run>/profile/.",
    )
    profile_steps: int = Field(default=1, gt=0, description="How many steps to profile from profile_at.")

    @model_validator(mode="after")
    def _lr_order(self) -> TrainSettings:
        if self.min_lr is not None and self.min_lr > self.lr:
            raise ValueError(f"min_lr ({self.min_lr}) is above lr ({self.lr})")
        return self


class PhaseConfig(StrictModel):
    """One training phase: how many tokens, in what sequence length, blended from which sources."""

    tokens: int = Field(
        gt=0,
        description="Training tokens in the phase (rounded up to whole samples); 2.0e9 and 200B both work.",
    )
    seq_len: int = Field(
        gt=0, le=1_048_576, description="Tokens per training sequence (samples hold seq_len + 1)."
    )
    weights: dict[str, float] = Field(
        min_length=1, description="Token share per source name; normalised, so they need not sum to 1."
    )
    max_repetition: float = Field(
        default=1.0,
        ge=1.0,
        description="How many times a source's tokens may be used in this phase (epochs).",
    )
    max_index_bytes: int | None = Field(
        default=MAX_INDEX_BYTES,
        gt=0,
        description="Refuse a phase whose blend index would be larger than this (bytes; null: no bound). "
        "A phase costs about 25 bytes a sample plus 4 bytes per document per epoch of its sources.",
    )
    train: TrainSettings = Field(
        default_factory=TrainSettings, description="Training settings for `mixer train --phase <this phase>`."
    )

    @field_validator("tokens", "max_index_bytes", mode="before")
    @classmethod
    def _whole_tokens(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):  # YAML reads 2.0e9 (no exponent sign) as a string; also allow 200B, 20M
            text = value.strip().replace("_", "")
            scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(text[-1:].upper(), 1)
            try:
                value = float(text[:-1] if scale != 1 else text) * scale
            except ValueError:
                raise ValueError(
                    f"{info.field_name} must be a number such as 2000000, 2.0e9 or 200B, got '{value}'"
                ) from None
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"{info.field_name} must be a whole number, got {value}")
            return int(value)
        return value

    @field_validator("weights", mode="after")
    @classmethod
    def _positive_weights(cls, weights: dict[str, float]) -> dict[str, float]:
        import math

        for name, w in weights.items():
            if not math.isfinite(w) or w <= 0:
                raise ValueError(
                    f"weight of '{name}' is {w}; weights must be positive (leave a source out to exclude it)"
                )
        return weights


class HoldoutConfig(StrictModel):
    """Documents of every source reserved for validation; they never enter a training blend."""

    fraction: float = Field(default=0.005, ge=0.0, lt=0.5, description="Share of each source's documents.")
    max_documents: int = Field(default=1000, ge=0, description="At most this many documents per source.")
    min_documents: int = Field(default=1, ge=0, description="At least this many (when the source has more).")


class NearDedupConfig(StrictModel):
    """MinHash LSH: documents sharing all `rows` hashes of any of `bands` bands are candidate duplicates."""

    ngram: int = Field(
        default=5, ge=1, description="Words per shingle (after datatrove's text normalisation)."
    )
    bands: int = Field(default=14, ge=1, description="LSH bands (datatrove's num_buckets).")
    rows: int = Field(default=8, ge=1, description="MinHash values per band (datatrove's hashes_per_bucket).")
    threshold: float | None = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Keep a candidate pair only if its estimated Jaccard similarity (the share of equal MinHash "
        "values over all bands x rows) reaches this; null keeps every LSH candidate.",
    )
    seed: int = Field(default=1, ge=0, description="Seed of the MinHash permutations.")


class DedupConfig(StrictModel):
    """Deduplication across all sources: exact (normalised text), then near duplicates (MinHash)."""

    exact: bool = Field(default=True, description="Remove documents whose normalised text is identical.")
    near: NearDedupConfig | None = Field(
        default_factory=NearDedupConfig, description="Near-duplicate removal; null turns it off."
    )
    priority: list[str] = Field(
        default_factory=list,
        description="Sources in the order that keeps a shared document (first wins); unlisted sources follow "
        "in recipe order.",
    )


class RecipeBase(StrictModel):
    name: str = Field(pattern=NAME_PATTERN, description="Recipe name; output goes to shards/<name>.")
    description: str = ""
    seed: int = Field(default=0, ge=0, description="Seed for every random choice of the build.")
    tokenizer: TokenizerConfig
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    build: BuildSettings = Field(default_factory=BuildSettings)
    holdout: HoldoutConfig = Field(default_factory=HoldoutConfig)
    phases: dict[str, PhaseConfig] = Field(
        default_factory=dict, description="Training phases in order (e.g. pretrain, cooldown)."
    )
    dedup: DedupConfig | None = Field(
        default=None, description="Deduplication across sources (off when absent)."
    )

    @model_validator(mode="after")
    def _phase_sources(self) -> RecipeBase:
        import re

        if self.dedup is not None:
            for name in self.dedup.priority:
                if name not in self.sources:  # type: ignore[attr-defined]
                    raise ValueError(
                        f"dedup.priority: no source named '{name}'; sources: {', '.join(self.sources)}"  # type: ignore[attr-defined]
                    )
        for phase, cfg in self.phases.items():
            if not re.fullmatch(NAME_PATTERN, phase):
                raise ValueError(f"phases: phase name {phase!r} must be letters, digits, '.', '_' or '-'")
            for name in cfg.weights:
                if name not in self.sources:  # type: ignore[attr-defined]
                    raise ValueError(
                        f"phases.{phase}.weights.{name}: no source named '{name}'; "
                        f"sources: {', '.join(self.sources)}"  # type: ignore[attr-defined]
                    )
        return self

    @field_validator("sources", mode="after", check_fields=False)
    @classmethod
    def _source_names(cls, sources: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        import re

        for name in sources:
            if not re.fullmatch(NAME_PATTERN, name):  # fullmatch: "$" alone lets a trailing newline in
                raise ValueError(f"source name {name!r} must be letters, digits, '.', '_' or '-'")
        if not sources:
            raise ValueError("a recipe needs at least one source")
        return sources

    def content_hash(self) -> str:
        """Hash of everything that decides the output bytes (not where or how fast it runs)."""
        data = self.model_dump(
            mode="json",
            exclude={
                "executor": True,
                "description": True,
                "build": {"keep_work"},
                "phases": {"__all__": {"train", "max_index_bytes"}},
            },
        )
        return "sha256:" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@lru_cache(maxsize=4)
def _recipe_model(kinds: tuple[str, ...]) -> type[RecipeBase]:
    types = source_types()
    members = tuple(types[k] for k in kinds)
    source = Annotated[Union[members], Field(discriminator="type")] if len(members) > 1 else members[0]  # noqa: UP007
    return create_model(
        "Recipe",
        __base__=RecipeBase,
        sources=(dict[str, source], Field(description="Named sources of documents.")),  # type: ignore[valid-type]
    )


def recipe_model() -> type[RecipeBase]:
    """The recipe model over the source kinds registered now."""
    return _recipe_model(tuple(sorted(source_types())))


Recipe = RecipeBase  # the type to annotate with; instances come from recipe_model()


def recipe_json_schema() -> dict[str, Any]:
    schema = recipe_model().model_json_schema()
    schema["title"] = "mixer recipe"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def parse_recipe(data: Any, source: str = "<recipe>", lines: dict[KeyPath, int] | None = None) -> RecipeBase:
    """Validate plain data as a recipe; raise :class:`RecipeError` with one line per problem."""
    if not isinstance(data, dict):
        raise RecipeError(source, ["the recipe must be a mapping of keys (name, tokenizer, sources, ...)"])
    _check_source_types(data, source)
    try:
        return recipe_model().model_validate(data)
    except ValidationError as e:
        raise RecipeError(source, [_describe(err, lines or {}) for err in e.errors()]) from None


def load_recipe(path: str | os.PathLike[str]) -> RecipeBase:
    """Read and validate a recipe file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(str(path), ["file not found; give the path to a recipe YAML file"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise RecipeError(str(path), [f"cannot read the file: {e}"]) from None
    try:
        data, lines = load_yaml(text, str(path))
    except YamlError as e:
        raise RecipeError(str(path), [str(e).removeprefix(f"{path}, ").removeprefix(f"{path}: ")]) from None
    return parse_recipe(data, str(path), lines)


def _check_source_types(data: dict, source: str) -> None:
    """Name the valid kinds when ``type`` is missing or unknown (pydantic's union message is opaque)."""
    sources = data.get("sources")
    if not isinstance(sources, dict):
        return
    kinds = sorted(source_types())
    problems = []
    for name, block in sources.items():
        if not isinstance(block, dict):
            problems.append(f"sources.{name}: must be a mapping with a `type` ({', '.join(kinds)})")
        elif "type" not in block:
            problems.append(f"sources.{name}.type: missing; set it to one of {', '.join(kinds)}")
        elif block["type"] not in kinds:
            problems.append(
                f"sources.{name}.type: unknown kind '{block['type']}'; valid kinds: {', '.join(kinds)}"
            )
    if problems:
        raise RecipeError(source, problems)


def _describe(err: dict[str, Any], lines: dict[KeyPath, int]) -> str:
    loc = tuple(
        p for p in err["loc"] if not (isinstance(p, str) and p in source_types() and _is_union_tag(err, p))
    )
    loc = tuple(p for p in loc if p not in ("function-after[_exactly_one(), TokenizerConfig]",))
    where = format_path(loc)
    line = _line_for(loc, lines)
    at = f" (line {line})" if line else ""
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        parent = loc[:-1]
        raw = err["loc"]
        if len(parent) == 2 and parent[0] == "sources" and len(raw) > 2 and raw[2] in source_types():
            fields = [f for f in source_types()[raw[2]].model_fields]
            valid = f" (valid keys for type {raw[2]}: {', '.join(fields)})"
        else:
            valid = _valid_keys(parent)
        return f"{where}{at}: unknown key '{loc[-1]}'; remove it or check its spelling{valid}"
    if kind == "missing":
        return f"{where}{at}: required key is missing"
    if msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    if not loc and kind == "value_error":  # a cross-field check: its message starts with the key path
        path = msg.split(":", 1)[0]
        line = _line_for(tuple(int(p) if p.isdigit() else p for p in path.split(".")), lines)
        return msg.replace(path, f"{path} (line {line})", 1) if line else msg
    return (
        f"{where}{at}: {msg} (got {err.get('input')!r})" if kind != "value_error" else f"{where}{at}: {msg}"
    )


def _is_union_tag(err: dict[str, Any], part: str) -> bool:
    # pydantic inserts the discriminator value into the location: sources.web.jsonl.paths
    loc = list(err["loc"])
    i = loc.index(part)
    return i >= 2 and loc[i - 2] == "sources"


def _line_for(loc: tuple, lines: dict[KeyPath, int]) -> int | None:
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


def _valid_keys(parent: tuple) -> str:
    model: Any = recipe_model()
    try:
        for part in parent:
            if isinstance(part, int):
                continue
            if model is recipe_model() and part == "sources":
                return ""
            field = model.model_fields[part]
            model = _model_of(field.annotation)
            if model is None:
                return ""
    except KeyError:
        return ""
    if parent and parent[0] == "sources" and len(parent) == 2:
        return ""
    return f" (valid keys: {', '.join(model.model_fields)})" if model is not None else ""


def _model_of(annotation: Any) -> Any:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, StrictModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
