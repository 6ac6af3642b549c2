"""A phase's training settings: the recipe's `phases.<phase>.train` block, or a separate YAML file, then
command-line overrides, validated together so every error names where the bad value came from.

The block also holds how the trainer runs a step (prefetching, the chunked loss, the attention backend,
what is compiled, profiling, whether checkpoints are written): settings that change speed and memory, not
results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mixer.errors import RecipeError
from mixer.recipe import RecipeBase, TrainSettings
from mixer.recipe.yamlload import load_yaml


def resolve_settings(
    recipe: RecipeBase,
    phase: str,
    *,
    train_config: Path | None = None,
    overrides: dict[str, Any] | None = None,
    recipe_path: str = "<recipe>",
) -> TrainSettings:
    if phase not in recipe.phases:
        raise RecipeError(
            recipe_path,
            [f"phases.{phase}: no such phase; the recipe's phases are {', '.join(recipe.phases) or 'none'}"],
        )
    settings = recipe.phases[phase].train
    if train_config is not None:
        settings = _validate(_read_yaml(train_config), str(train_config), "")
    if overrides:
        base = settings.model_dump(exclude_unset=True)
        settings = _validate({**base, **overrides}, "command line (--set)", "train.")
    return settings


def parse_overrides(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`["lr=1e-3", "compile=false"]` -> `{"lr": 0.001, "compile": False}` (values read as YAML scalars)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise RecipeError("--set", [f"'{pair}' is not KEY=VALUE (e.g. --set lr=1e-3)"])
        parsed = yaml.safe_load(value) if value.strip() else None
        if isinstance(parsed, str) and _is_number(parsed):  # YAML 1.1 reads 1e-3 (no dot) as a string
            parsed = float(parsed)
        out[key.strip().removeprefix("train.")] = parsed
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_yaml(path: Path) -> Any:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise RecipeError(str(path), [f"cannot read the training settings: {e.strerror}"]) from None
    data, _ = load_yaml(text, str(path))
    return {} if data is None else data


def _validate(data: Any, source: str, prefix: str) -> TrainSettings:
    if not isinstance(data, dict):
        raise RecipeError(source, ["training settings must be a mapping of keys (model, lr, ...)"])
    try:
        return TrainSettings.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            key = ".".join(str(x) for x in err["loc"]) or "(settings)"
            if err["type"] == "extra_forbidden":
                valid = ", ".join(TrainSettings.model_fields)
                problems.append(f"{prefix}{key}: unknown setting; valid settings: {valid}")
            else:
                problems.append(f"{prefix}{key}: {err['msg']}")
        raise RecipeError(source, problems) from None
