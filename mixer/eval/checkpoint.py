"""``mixer eval CHECKPOINT``: every measure of one trained checkpoint, in a JSON file beside it.

    runs/<name>/<phase>/final/            the checkpoint
    runs/<name>/<phase>/final.eval.json   {"validation": ..., "humaneval": ..., "lm_eval": ...}
    runs/<name>/<phase>/final-hf/         the model exported for generation and lm-evaluation-harness

- ``validation``: per-source loss and bits per byte on the build's held-out documents, as the trainer
  measured them at the checkpoint's step (its ``metrics.jsonl``);
- ``humaneval``: pass@1 (greedy) and pass@k (sampled) of completions the model writes, run with each
  problem's own tests in mixer's sandbox (:mod:`mixer.eval.humaneval`);
- ``lm_eval``: natural-language tasks by log-likelihood through lm-evaluation-harness
  (:mod:`mixer.eval.lm_harness`).

Each part is written as soon as it is done, with the settings it was made with: running the command
again redoes only what is missing or was asked for differently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from mixer.atomic import write_json_atomic
from mixer.errors import MixerError


def results_path(checkpoint: Path) -> Path:
    return checkpoint.parent / f"{checkpoint.name}.eval.json"


def export_path(checkpoint: Path) -> Path:
    return checkpoint.parent / f"{checkpoint.name}-hf"


def evaluate_checkpoint(checkpoint: Path, settings, *, echo=print) -> dict[str, Any]:
    """Evaluate ``checkpoint`` as ``settings`` (an :class:`~mixer.eval.settings.EvaluateSettings`) asks."""
    checkpoint = Path(checkpoint)
    state = _state(checkpoint)
    identity = {"step": state.get("step"), "fingerprint": state.get("fingerprint")}
    path = results_path(checkpoint)
    results = json.loads(path.read_text()) if path.is_file() else {}
    if results.get("checkpoint") != identity:
        results = {"checkpoint": identity}  # another checkpoint now has this name (a retrained phase)
        write_json_atomic(path, results)

    def part(name: str, config: Any, compute) -> None:
        key = _hash(config)
        if results.get(name, {}).get("settings") == key:
            echo(f"{checkpoint}: {name} done before")
            return
        results[name] = {"settings": key, **compute()}
        write_json_atomic(path, results)

    if settings.validation:
        part("validation", {}, lambda: {"sources": validation(checkpoint, state)})
    log_file = checkpoint.parent / f"{checkpoint.name}.eval.log"
    if settings.humaneval is not None or settings.lm_eval is not None:
        model_dir = export(checkpoint, echo)
    if settings.humaneval is not None:
        from mixer.eval.generate import Generator
        from mixer.eval.humaneval import score

        def humaneval() -> dict[str, Any]:
            with third_party_logs(log_file):
                generator = Generator(model_dir, settings.device)
                return score(generator.complete, settings.humaneval, echo)

        part("humaneval", settings.humaneval.model_dump(), humaneval)
    if settings.lm_eval is not None:
        from mixer.eval.lm_harness import score_tasks

        part(
            "lm_eval",
            settings.lm_eval.model_dump(),
            lambda: {"tasks": _quietly(log_file, score_tasks, model_dir, settings.lm_eval, settings.device)},
        )
    return results


THIRD_PARTY = ("lm-eval", "lm_eval", "transformers", "datasets", "accelerate", "evaluate", "absl", "httpx")


@contextlib.contextmanager
def third_party_logs(log_file: Path):
    """The evaluation libraries' logs and progress bars go to ``log_file``; the console keeps mixer's own."""
    handler = logging.FileHandler(log_file)
    saved = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate) for name in THIRD_PARTY
    }
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    for name in THIRD_PARTY:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
    try:
        yield
    finally:
        for name, (handlers, propagate) in saved.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate
        handler.close()
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before


def _quietly(log_file: Path, fn, *args):
    with third_party_logs(log_file):
        return fn(*args)


def validation(checkpoint: Path, state: dict[str, Any]) -> dict[str, Any]:
    """The trainer's per-source validation at the checkpoint's step, from the run's ``metrics.jsonl``."""
    from mixer.trainer.logs import read_metrics

    metrics = checkpoint.parent / "metrics.jsonl"
    if not metrics.is_file():
        raise MixerError(
            f"{metrics}: missing; the run has no validation log (was it trained by `mixer train`?)"
        )
    evals = [
        r for r in read_metrics(metrics) if r.get("event") == "eval" and r.get("step") == state.get("step")
    ]
    if not evals:
        raise MixerError(
            f"{metrics} has no validation at step {state.get('step')}, the checkpoint's: the build may have no "
            "holdout (add `holdout:` to the recipe and rebuild)"
        )
    return evals[-1]["sources"]


def export(checkpoint: Path, echo=print) -> Path:
    """The checkpoint as a Hugging Face model folder (written once, beside it)."""
    from mixer.trainer.checkpoint import load_weights
    from mixer.trainer.export import export_hf

    out = export_path(checkpoint)
    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        if (out / "model.safetensors").stat().st_mtime >= (checkpoint / "state.json").stat().st_mtime:
            return out
    shutil.rmtree(out, ignore_errors=True)  # an export of an earlier checkpoint of this name
    config, state_dict, _ = load_weights(checkpoint)
    tokenizer = checkpoint.parent / "tokenizer"
    export_hf(config, state_dict, out, tokenizer_dir=tokenizer if tokenizer.is_dir() else None)
    echo(f"{checkpoint}: exported to {out}")
    return out


def _state(checkpoint: Path) -> dict[str, Any]:
    from mixer.trainer.checkpoint import read_state

    try:
        return read_state(checkpoint)
    except FileNotFoundError as e:
        raise MixerError(str(e)) from None


def _hash(config: Any) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]
