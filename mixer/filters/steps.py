"""The quality steps a source can name in its ``filters:`` list, and how the build makes them.

A recipe names steps, in order, each with optional parameters::

    filters: [gopher_quality, {gopher_repetition: {dup_line_frac: 0.3}}, {language: {languages: [en]}}, pii]

Every step is a datatrove ``PipelineStep``: datatrove's own filters where they exist (Gopher, C4, FineWeb),
mixer's where datatrove has none (code heuristics, PII redaction, offline language identification). This
module imports nothing heavy, so recipes load without datatrove; the parameters are checked against the
step's constructor (names and types) when the build plans, before any work.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from dataclasses import dataclass
from typing import Any

# name -> ("module:Class", what it does). Parameters are the class's constructor parameters.
STEPS: dict[str, tuple[str, str]] = {
    "gopher_quality": (
        "mixer.filters.text:GopherQuality",
        "Gopher quality rules (word counts and lengths, symbol ratios, bullets, ellipses, stop words)",
    ),
    "gopher_repetition": (
        "mixer.filters.text:GopherRepetition",
        "Gopher repetition rules (duplicate lines, paragraphs and n-grams)",
    ),
    "c4_quality": (
        "mixer.filters.text:C4Quality",
        "C4 line and document rules (javascript, policy, lorem ipsum, ...)",
    ),
    "c4_badwords": ("mixer.filters.text:C4BadWords", "C4's bad-words list (a local word list file)"),
    "fineweb_quality": (
        "mixer.filters.text:FineWebQuality",
        "FineWeb rules (line punctuation, short lines, duplicated line characters, list ratio)",
    ),
    "language": ("mixer.filters.text:Language", "fastText language identification (lid.176, offline)"),
    "code_quality": ("mixer.filters.code:CodeQualityFilter", "StarCoder / The Stack v2 code heuristics"),
    "pii": (
        "mixer.filters.pii:PIIRedactor",
        "redact e-mail and IP addresses and secrets with typed placeholders",
    ),
}

# datatrove plumbing that a recipe must not set: the build provides it
RESERVED_PARAMETERS = frozenset({"self", "exclusion_writer", "args", "kwargs"})


@dataclass(frozen=True)
class StepSpec:
    name: str
    params: dict[str, Any]


def parse_step(item: Any) -> StepSpec:
    """``"name"`` or ``{name: {param: value}}`` (or ``{name: null}``) -> StepSpec; ValueError when malformed."""
    if isinstance(item, str):
        name, params = item, {}
    elif isinstance(item, dict) and len(item) == 1:
        ((name, params),) = item.items()
        params = {} if params is None else params
        if not isinstance(params, dict):
            raise ValueError(f"parameters of filter '{name}' must be a mapping, got {type(params).__name__}")
    else:
        raise ValueError(f"a filter is a name or a one-key mapping {{name: {{parameters}}}}, got {item!r}")
    if name not in STEPS:
        raise ValueError(f"unknown filter '{name}'; valid filters: {', '.join(STEPS)}")
    return StepSpec(name, dict(params))


def step_class(name: str) -> type:
    module, cls = STEPS[name][0].split(":")
    return getattr(importlib.import_module(module), cls)


def check_params(spec: StepSpec) -> list[str]:
    """Problems with a step's parameters (unknown names, wrong types), each naming step and parameter."""
    from pydantic import ValidationError, create_model

    fields = _parameters(step_class(spec.name))
    problems = [
        f"{spec.name}.{k}: unknown parameter; valid parameters: {', '.join(fields) or 'none'}"
        for k in spec.params
        if k not in fields
    ]
    if problems:
        return problems
    model = create_model(f"{spec.name}_params", __config__={"arbitrary_types_allowed": True}, **fields)
    try:
        model.model_validate(spec.params)
    except ValidationError as e:
        for err in e.errors():
            where = ".".join(str(x) for x in err["loc"])
            problems.append(f"{spec.name}.{where}: {err['msg']}")
    return problems


def _parameters(cls: type) -> dict[str, Any]:
    """Constructor parameters as pydantic fields; a ``**kwargs`` pass-through adds the parent's parameters."""
    fields: dict[str, Any] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        init = vars(klass)["__init__"]
        hints = typing.get_type_hints(init)
        passes_on = False
        for pname, p in inspect.signature(init).parameters.items():
            if p.kind is p.VAR_KEYWORD:
                passes_on = True
            if pname in RESERVED_PARAMETERS or pname in fields or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[pname] = (_any_length(hints.get(pname, Any)), default)
        if not passes_on:
            break
    return fields


def _any_length(hint: Any) -> Any:
    """``tuple[X]`` read as ``tuple[X, ...]``: datatrove annotates its tuples of thresholds so
    (``top_n_grams: tuple[tuple[int, float]] = ((2, 0.2), (3, 0.18), (4, 0.16))``), which taken strictly
    would accept one pair only."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and len(args) == 1 and args[0] is not Ellipsis:
        return tuple[args[0], ...]  # type: ignore[valid-type]
    return hint


def make_step(spec: StepSpec) -> Any:
    """The datatrove step for a spec (parameters already checked)."""
    return step_class(spec.name)(**spec.params)
