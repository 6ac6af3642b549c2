"""The study file: one corpus, several mixtures of it, each trained through its phases and evaluated.

    name: paper
    corpus: corpus.yaml              # a recipe: sources, tokenizer, dedup, holdout (its phases are unused)
    train: {model: 470m}             # defaults under every phase's `train:` block
    evaluate:
      humaneval: {problems: 164, samples: 10, k: [1, 10]}
      lm_eval: {tasks: [hellaswag, arc_easy, piqa]}
    mixtures:
      balanced-to-text:
        phases:                      # trained in order, each from the previous phase's final checkpoint
          init: {tokens: 100B, seq_len: 8192, weights: {web: 0.5, code: 0.5}}
          continue: {tokens: 100B, seq_len: 8192, weights: {web: 0.9, code: 0.1}}
          cooldown: {tokens: 20B, seq_len: 8192, weights: {web: 0.8, code: 0.2}}

Every mixture becomes a recipe (the corpus recipe with the mixture's phases), validated by the recipe's own
rules; a mistake is reported at its key path in the study file (``mixtures.text.phases.init.weights.cod:
no source named 'cod'; sources: code, web``). Paths are relative to the study file.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from mixer.errors import RecipeError
from mixer.eval.settings import EvaluateSettings
from mixer.recipe import NAME_PATTERN, RecipeBase, load_recipe, parse_recipe
from mixer.recipe.yamlload import KeyPath, YamlError, format_path, load_yaml
from mixer.sources.base import StrictModel


class MixtureSpec(StrictModel):
    description: str = ""
    init: str | None = Field(
        None,
        description="Start the first phase from this mixer checkpoint or Hugging Face model folder "
        "(continued pretraining of a released model); default: a fresh model.",
    )
    phases: dict[str, dict[str, Any]] = Field(
        min_length=1, description="Phases in training order: tokens, seq_len, weights, max_repetition, train."
    )


class StudySpec(StrictModel):
    name: str = Field(pattern=NAME_PATTERN, description="Study name: runs go to runs/<name>/<mixture>/.")
    description: str = ""
    corpus: str = Field(description="The corpus recipe file (relative to the study file).")
    train: dict[str, Any] = Field(default_factory=dict, description="Train settings under every phase's own.")
    launcher: list[str] = Field(
        default_factory=list,
        description="Command run in front of `python -m mixer.cli train ...`, e.g. [torchrun, --nproc-per-node, '8'].",
    )
    evaluate: EvaluateSettings = Field(default_factory=EvaluateSettings)
    mixtures: dict[str, MixtureSpec] = Field(min_length=1)


class Study:
    """A loaded study: its spec, its corpus recipe and one validated recipe per mixture."""

    def __init__(
        self,
        path: Path,
        spec: StudySpec,
        corpus_path: Path,
        corpus: RecipeBase,
        mixtures: dict[str, RecipeBase],
    ):
        self.path, self.spec, self.corpus_path, self.corpus, self.mixtures = (
            path,
            spec,
            corpus_path,
            corpus,
            mixtures,
        )

    @property
    def name(self) -> str:
        return self.spec.name


def load_study(path: str | os.PathLike[str]) -> Study:
    """Read and validate a study file, its corpus recipe and every mixture; RecipeError names each problem."""
    path = Path(path)
    try:
        data, lines = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        raise RecipeError(str(path), ["file not found; give the path to a study YAML file"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise RecipeError(str(path), [f"cannot read the file: {e}"]) from None
    except YamlError as e:
        raise RecipeError(str(path), [str(e).removeprefix(f"{path}, ").removeprefix(f"{path}: ")]) from None
    if not isinstance(data, dict):
        raise RecipeError(str(path), ["a study is a mapping of keys (name, corpus, mixtures, ...)"])
    try:
        spec = StudySpec.model_validate(data)
    except ValidationError as e:
        raise RecipeError(str(path), [_describe(err, lines) for err in e.errors()]) from None
    lm = spec.evaluate.lm_eval
    if lm is not None and lm.include_path is not None:  # relative to the study file
        folder = (path.parent / lm.include_path).resolve()
        if not folder.is_dir():
            where = ("evaluate", "lm_eval", "include_path")
            raise RecipeError(str(path), [f"{format_path(where)}{_at(where, lines)}: no folder {folder}"])
        evaluate = spec.evaluate.model_copy(
            update={"lm_eval": lm.model_copy(update={"include_path": str(folder)})}
        )
        spec = spec.model_copy(update={"evaluate": evaluate})
    corpus_path = (path.parent / spec.corpus).resolve()
    if not corpus_path.is_file():
        raise RecipeError(
            str(path),
            [f"corpus{_at(('corpus',), lines)}: no file {corpus_path}; give the corpus recipe's path"],
        )
    corpus = load_recipe(corpus_path)
    problems, mixtures = [], {}
    for name, mixture in spec.mixtures.items():
        where = ("mixtures", name)
        if not _valid_name(name):
            problems.append(
                f"{format_path(where)}{_at(where, lines)}: mixture names are letters, digits, '.', '_' or '-'"
            )
            continue
        try:
            mixtures[name] = mixture_recipe(corpus, spec, name, lines)
        except RecipeError as e:
            problems += e.problems
        if mixture.init is not None and not (path.parent / mixture.init).is_dir():
            problems.append(
                f"{format_path((*where, 'init'))}{_at((*where, 'init'), lines)}: no checkpoint or model folder "
                f"{(path.parent / mixture.init).resolve()}"
            )
        elif name in mixtures:
            problems += _shape_problems(
                name, mixtures[name], path.parent / mixture.init if mixture.init else None, lines
            )
    if problems:
        raise RecipeError(str(path), problems)
    return Study(path, spec, corpus_path, corpus, mixtures)


def mixture_recipe(
    corpus: RecipeBase, spec: StudySpec, mixture: str, lines: dict[KeyPath, int] | None = None
) -> RecipeBase:
    """The corpus recipe with the mixture's phases, the study's train defaults under each phase's own."""
    data = corpus.model_dump(mode="json")
    data["name"] = f"{spec.name}-{mixture}"
    phases = {}
    for phase, block in spec.mixtures[mixture].phases.items():
        block = copy.deepcopy(block)
        if isinstance(block, dict):
            train = block.get("train") if isinstance(block.get("train"), dict) else {}
            block["train"] = {**spec.train, **train}
        phases[phase] = block
    data["phases"] = phases
    prefix = ("mixtures", mixture)
    mixture_lines = {k[len(prefix) :]: v for k, v in (lines or {}).items() if k[: len(prefix)] == prefix}
    try:
        return parse_recipe(data, f"mixtures.{mixture}", mixture_lines)
    except RecipeError as e:
        # the corpus's own keys are checked when it loads: what fails here is the mixture's phases
        raise RecipeError(e.source, [f"mixtures.{mixture}.{p}" for p in e.problems]) from None


SHAPE = ("model", "tie_embeddings")  # what a phase inherits from the checkpoint it starts from


def _shape_problems(
    mixture: str, recipe: RecipeBase, init: Path | None, lines: dict[KeyPath, int]
) -> list[str]:
    """A phase must train the model shape of the checkpoint it starts from (the previous phase's, or init)."""
    import json

    before: dict[str, Any] | None = None
    origin = ""
    if init is not None and (init / "state.json").is_file():
        settings = json.loads((init / "state.json").read_text()).get("settings", {})
        before, origin = {k: settings.get(k) for k in SHAPE}, f"the checkpoint {init}"
    problems = []
    for phase, cfg in recipe.phases.items():
        shape = {k: getattr(cfg.train, k) for k in SHAPE}
        if before is not None and shape != before:
            key = ("mixtures", mixture, "phases", phase)
            problems.append(
                f"{format_path((*key, 'train'))}{_at(key, lines)}: trains {shape} but starts from {origin}, "
                f"{before}; give the phases of a mixture one model"
            )
        before, origin = shape, f"{phase}'s final checkpoint"
    return problems


def _valid_name(name: str) -> bool:
    import re

    return re.match(NAME_PATTERN, name) is not None


def _at(path: KeyPath, lines: dict[KeyPath, int]) -> str:
    line = lines.get(path)
    return f" (line {line})" if line else ""


def _describe(err: dict[str, Any], lines: dict[KeyPath, int]) -> str:
    loc = tuple(err["loc"])
    where = format_path(loc) or "the study"
    at = _at(loc, lines) or _at(loc[:-1], lines)
    if err["type"] == "extra_forbidden":
        return f"{where}{at}: unknown key '{loc[-1]}'; remove it or check its spelling"
    if err["type"] == "missing":
        return f"{where}{at}: required key is missing"
    return f"{where}{at}: {err['msg'].removeprefix('Value error, ')}"
