"""The build's plan: everything decided before any work, from the recipe and the file system.

:func:`plan_build` resolves every source's inputs, checks each quality step's parameters, the output
folder and the size of every phase, and raises :class:`~mixer.errors.PlanError` with the key and the fix
before anything runs; :func:`describe_plan` is what ``--dry-run`` prints, and
:func:`first_record_problems` what it finds in the first record of each source.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from mixer.errors import PlanError
from mixer.filters.steps import check_params, make_step
from mixer.mixing.blend import index_bytes
from mixer.mixing.mix import size_text
from mixer.mixing.targets import target_shares
from mixer.recipe import PhaseConfig, RecipeBase
from mixer.sources.base import InputFile, ResolvedInputs, SourceConfig

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
    notes: list[str] = field(default_factory=list)  # worth knowing, nothing wrong


def default_output(recipe: RecipeBase) -> Path:
    return Path("shards") / recipe.name


def plan_build(recipe: RecipeBase, recipe_path: str, output: Path | None = None) -> BuildPlan:
    """Resolve every source's inputs and check the output folder; raise PlanError before any work."""
    output = Path(output) if output is not None else default_output(recipe)
    check_output_folder(output)
    check_output_owner(output, recipe.name)
    for phase, cfg in recipe.phases.items():
        check_phase_floor(phase, cfg)
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
    warnings += unused_sources(recipe)
    return BuildPlan(recipe, recipe_path, output, sources, warnings, weight_notes(recipe))


def check_output_folder(output: Path) -> None:
    """Refuse an output folder that cannot be created or written (a file in its path, a read-only file
    system, a folder the user may not write), naming it, before any work."""
    existing = output
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        where = "is a file" if existing == output else f"lies under {existing}, which is a file"
        raise PlanError(f"--output {output} {where}, not a folder; choose another --output")
    if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
        try:
            read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
        except OSError:
            read_only = False
        why = "a read-only file system" if read_only else "no permission to write there"
        what = "the output folder" if existing == output else f"{existing} (to create the output folder in)"
        raise PlanError(f"--output {output}: cannot write in {what}: {why}; choose another --output")


def output_folder_error(output: Path, e: OSError) -> PlanError | None:
    """The clear error for an OSError raised creating the output folder, or None for one that is not about
    where the folder is (a full disk is reported as such by the CLI)."""
    if e.errno not in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST):
        return None
    return PlanError(
        f"--output {output}: cannot create the folder ({e.strerror}: {e.filename}); choose another --output"
    )


def check_phase_floor(phase: str, cfg: PhaseConfig) -> None:
    """Refuse, before any work, a phase whose samples alone exceed ``phases.<phase>.max_index_bytes``
    (the repetition of each source adds to this once the sources are built: see mixer.mixing.mix)."""
    samples = -(-cfg.tokens // cfg.seq_len)
    floor = index_bytes(samples, len(cfg.weights))
    if cfg.max_index_bytes is not None and floor > cfg.max_index_bytes:
        raise PlanError(
            f"phases.{phase}: {samples:,} samples of {cfg.seq_len + 1} tokens need at least {size_text(floor)} "
            f"of blend index, more than phases.{phase}.max_index_bytes ({size_text(cfg.max_index_bytes)}). "
            f"Lower phases.{phase}.tokens, or raise phases.{phase}.max_index_bytes (null: no bound) if the "
            "phase is meant to be this large"
        )


def unused_sources(recipe: RecipeBase) -> list[str]:
    """A warning for each source that no phase weights (it is built, and never trained on)."""
    if not recipe.phases:
        return []
    used = {n for cfg in recipe.phases.values() for n in cfg.weights}
    return [
        f"sources.{name}: no phase uses it (no phases.*.weights names it); it is built but never blended: "
        "give it a weight or remove it from the recipe"
        for name in recipe.sources  # type: ignore[attr-defined]
        if name not in used
    ]


def weight_notes(recipe: RecipeBase) -> list[str]:
    """A note for each phase whose weights do not sum to 1: they are normalised, and to what."""
    notes = []
    for phase, cfg in recipe.phases.items():
        total = sum(Fraction(repr(float(w))) for w in cfg.weights.values())
        if total == 1:
            continue
        shares = target_shares(list(cfg.weights.values()))
        listed = ", ".join(f"{n} {share:.2%}" for n, share in zip(cfg.weights, shares, strict=True))
        written = format(Decimal(total.numerator) / Decimal(total.denominator), ".6g")
        notes.append(f"phases.{phase}.weights sum to {written}, not 1: normalised to token shares {listed}")
    return notes


def first_record_problems(plan: BuildPlan) -> list[str]:
    """Read the first record of each source (``--dry-run``): a problem for a source whose record lacks the
    field its text is read from, which would leave the source without documents."""
    from mixer.readers.base import Skip

    missing = ("missing_text_field", "missing_text_column", "missing_content_field")
    problems = []
    for sp in plan.sources:
        key = "content_key" if hasattr(sp.config, "content_key") else "text_key"
        reader = sp.config.reader(sp.name, sp.inputs.files)
        if sp.config.uses_seed():
            reader.seed = plan.recipe.seed
        for index, f in enumerate(sp.inputs.files):
            found = _first_outcome(reader, f, index)
            if found is None:
                continue  # nothing readable in this file: the next one tells
            if isinstance(found, Skip) and found.reason in missing:
                detail = f" ({found.detail})" if found.detail else ""
                problems.append(
                    f"sources.{sp.name}: the first record, {f.path}:{found.line}, has no text: "
                    f"{found.reason}{detail}; set sources.{sp.name}.{key} to the field that holds the text"
                )
            break
    return problems


def _first_outcome(reader: Any, f: InputFile, index: int) -> Any:
    """The document (or the Skip) the first record of ``f`` gives; None when the file has no record."""
    from mixer.readers.base import FILE_LEVEL_SKIPS, Skip

    for line, record in reader.sample_records(f.path):
        if isinstance(record, Skip):
            if record.reason in FILE_LEVEL_SKIPS and record.reason != "missing_text_column":
                return None
            if record.reason == "missing_text_column":
                return record
            continue
        return reader.document(record, f.path, index, line)
    return None


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
        lines.append(
            f"  {sp.name} ({sp.config.type}): {files_text(len(sp.inputs.files), sp.config)}, {inputs_size(sp.inputs)}"
        )
        for f in sp.inputs.files[:20]:
            size = human_bytes(f.bytes) if f.bytes >= 0 else "size unknown"
            lines.append(f"    {f.path}  {size}")
        if len(sp.inputs.files) > 20:
            lines.append(f"    ... and {len(sp.inputs.files) - 20} more")
    for phase, cfg in plan.recipe.phases.items():
        samples = -(-cfg.tokens // cfg.seq_len)
        bound = size_text(cfg.max_index_bytes) if cfg.max_index_bytes is not None else "none"
        lines.append(
            f"  phase {phase}: {samples:,} samples of {cfg.seq_len + 1} tokens; blend index at least "
            f"{size_text(index_bytes(samples, len(cfg.weights)))}, plus 4 bytes per document per epoch of each "
            f"source (bound: {bound})"
        )
    for note in plan.notes:
        lines.append(f"note: {note}")
    for w in plan.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def files_text(n: int, config: SourceConfig | None = None) -> str:
    """``n`` units of work, by their name: repositories for the kinds that read one per unit, else files."""
    repos = config is not None and (
        config.type == "git_commits" or getattr(config, "repos", None) is not None
    )
    if repos:
        return f"{n:,} repository" if n == 1 else f"{n:,} repositories"
    return f"{n:,} file" if n == 1 else f"{n:,} files"


def inputs_size(inputs: ResolvedInputs) -> str:
    """The inputs' bytes, or "size unknown" for inputs without one (git repositories, remote files)."""
    unknown = sum(1 for f in inputs.files if f.bytes < 0)
    if unknown == len(inputs.files):
        return "size unknown"
    known = human_bytes(inputs.total_bytes)
    return f"{known} (+ {unknown:,} of unknown size)" if unknown else known


def human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def input_states(sp: SourcePlan) -> list[list[Any]]:
    """Each input's path, size and modification time: an edited or replaced input is built again.

    (A remote input counts by its URL and the size its listing gave; one that cannot be stat'ed, by its path.)
    """
    from mixer.sources.locations import is_url

    states: list[list[Any]] = []
    for f in sp.inputs.files:
        if is_url(f.path):
            states.append([f.path, f.bytes])
            continue
        try:
            st = os.stat(f.path)
        except OSError:
            states.append([f.path])
        else:
            states.append([f.path, st.st_size, st.st_mtime_ns])
    return states


def dedup_key(plan: BuildPlan) -> str:
    """What decides the deduplication: every source's block and inputs, the dedup settings, the seed."""
    import hashlib

    from mixer.build.stages.dedup import RULES as DEDUP_RULES

    data = {
        "dedup": plan.recipe.dedup.model_dump(mode="json") if plan.recipe.dedup else None,
        "sources": {sp.name: [sp.config.model_dump(mode="json"), input_states(sp)] for sp in plan.sources},
        "seed": plan.recipe.seed,
        "format": FORMAT,
        "rules": DEDUP_RULES,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
