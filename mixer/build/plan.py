"""The build's plan: everything decided before any work, from the recipe and the file system.

:func:`plan_build` resolves every source's inputs, checks each quality step's parameters and the output
folder, and raises :class:`~mixer.errors.PlanError` with the key and the fix before anything runs;
:func:`describe_plan` is what ``--dry-run`` prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mixer.errors import PlanError
from mixer.filters.steps import check_params, make_step
from mixer.recipe import RecipeBase
from mixer.sources.base import ResolvedInputs, SourceConfig

MANIFEST = "manifest.json"
OWNER_FILE = "work/recipe.json"
FORMAT = "mixer-shards/1"
PART_TOKENS = 50_000_000  # a task commits a part (a resume point) at the first file boundary past this

Echo = Callable[[str], None]


@dataclass
class SourcePlan:
    name: str
    config: SourceConfig
    inputs: ResolvedInputs


@dataclass
class BuildPlan:
    """Everything decided before any work: the recipe, the output folder and each source's inputs."""

    recipe: RecipeBase
    recipe_path: str
    output: Path
    sources: list[SourcePlan]
    warnings: list[str] = field(default_factory=list)


def default_output(recipe: RecipeBase) -> Path:
    return Path("shards") / recipe.name


def plan_build(recipe: RecipeBase, recipe_path: str, output: Path | None = None) -> BuildPlan:
    """Resolve every source's inputs and check the output folder; raise PlanError before any work."""
    output = Path(output) if output is not None else default_output(recipe)
    check_output_owner(output, recipe.name)
    sources, warnings = [], []
    for name, config in recipe.sources.items():
        problems = [p for spec in config.steps() for p in check_params(spec)]
        if problems:
            raise PlanError(f"sources.{name}.filters: " + "; ".join(problems))
        for spec in config.steps():
            make_step(spec)  # a step that needs a file or a model says so now, not in a worker
        inputs = config.resolve(name)
        warnings.extend(inputs.warnings)
        sources.append(SourcePlan(name, config, inputs))
    if recipe.tokenizer.path is not None and not Path(recipe.tokenizer.path).is_file():
        raise PlanError(
            f"tokenizer.path: '{recipe.tokenizer.path}' is not a file; give the path of a tokenizer.json "
            "(or use tokenizer.train to train one)"
        )
    return BuildPlan(recipe, recipe_path, output, sources, warnings)


def check_output_owner(output: Path, name: str) -> None:
    """Refuse an output folder that holds another recipe's build."""
    for marker in (output / OWNER_FILE, output / MANIFEST):
        if marker.is_file():
            try:
                owner = json.loads(marker.read_text())["recipe"]["name"]
            except (ValueError, KeyError, TypeError):
                raise PlanError(f"{marker}: unreadable; is {output} a mixer output folder?") from None
            if owner != name:
                raise PlanError(
                    f"{output} holds the build of recipe '{owner}', not '{name}'; "
                    f"choose another --output or delete {output}"
                )
            return
    if output.exists() and any(output.iterdir()):
        raise PlanError(
            f"{output} exists and is not a mixer output folder; choose another --output or empty it"
        )


def describe_plan(plan: BuildPlan) -> str:
    """The dry-run text: the resolved recipe and, per source, the files matched and their bytes."""
    import yaml

    lines = [f"# recipe {plan.recipe.name} ({plan.recipe_path}), hash {plan.recipe.content_hash()}"]
    lines.append(f"# output: {plan.output}")
    lines.append(yaml.safe_dump(plan.recipe.model_dump(mode="json"), sort_keys=False).rstrip())
    lines.append("")
    lines.append("plan:")
    for sp in plan.sources:
        total = sp.inputs.total_bytes
        lines.append(f"  {sp.name} ({sp.config.type}): {len(sp.inputs.files)} files, {human_bytes(total)}")
        for f in sp.inputs.files[:20]:
            size = human_bytes(f.bytes) if f.bytes >= 0 else "size unknown"
            lines.append(f"    {f.path}  {size}")
        if len(sp.inputs.files) > 20:
            lines.append(f"    ... and {len(sp.inputs.files) - 20} more")
    for w in plan.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
