"""Natural-language tasks scored by log-likelihood through lm-evaluation-harness, on the exported model.

lm-evaluation-harness (``pip install 'mixer[eval]'``) scores multiple-choice and cloze tasks exactly as it
does for any Hugging Face model: ``mixer`` hands it the folder ``mixer export-hf`` writes. Nothing is
downloaded: the Hugging Face libraries run offline, and every task is loaded, with its data, before the
model is, so a task that does not exist or whose data is neither local nor cached fails at once, naming
it. With hub access, run once with ``HF_DATASETS_OFFLINE=0`` (or ``lm_eval`` itself) to fill the cache.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from mixer.errors import MissingDependency, MixerError


class TaskUnavailable(MixerError):
    """A task that lm-evaluation-harness does not know, or whose data is not available offline."""


def score_tasks(model_dir: Path, settings, device: str | None = None) -> dict[str, Any]:
    """``{task: {"metric": name, "score": value, "stderr": value, "category": ...}}`` for the model."""
    model_dir = Path(model_dir).resolve()  # before the working directory moves to the tasks' folder
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager, get_task_dict
    except ModuleNotFoundError as e:
        raise MissingDependency(
            e.name or "lm_eval", "natural-language tasks (lm-evaluation-harness)", extra="eval"
        ) from None
    manager = TaskManager(include_path=settings.include_path, verbosity="ERROR")
    known = set(manager.all_tasks)
    unknown = [t for t in settings.tasks if t not in known]
    if unknown:
        where = f" or in {settings.include_path}" if settings.include_path else ""
        raise TaskUnavailable(
            f"lm_eval.tasks: unknown task '{unknown[0]}': not one of lm-evaluation-harness's tasks{where}; "
            "check the name (`lm_eval --tasks list`) or add a task YAML to include_path"
        )
    with _working_directory(settings.include_path):
        for task in settings.tasks:  # the data, before any model is loaded
            try:
                get_task_dict([task], manager)
            except Exception as e:  # noqa: BLE001  (datasets raises many kinds; each means: not here)
                raise TaskUnavailable(
                    f"lm_eval.tasks: the data of task '{task}' is not available offline ({type(e).__name__}: "
                    f"{str(e)[:200]}); run once with hub access to cache it, or point the task at local files"
                ) from None
    device = device or ("cuda" if _cuda() else "cpu")
    with _working_directory(settings.include_path):  # a task's local data files are relative to its folder
        results = _simple_evaluate(lm_eval, model_dir, settings, manager, device)
    out = {}
    for task in settings.tasks:
        metrics = results["results"][task]
        name = next(
            (m for m in ("acc_norm,none", "acc,none", "exact_match,none", "f1,none") if m in metrics), None
        )
        if name is None:
            name = next(k for k, v in metrics.items() if isinstance(v, float) and "stderr" not in k)
        out[task] = {
            "metric": name.split(",")[0],
            "score": float(metrics[name]),
            "stderr": _float(metrics.get(name.replace(",", "_stderr,", 1))),
            "category": settings.category(task),
            "documents": int(results.get("n-samples", {}).get(task, {}).get("effective", 0)) or None,
        }
    return out


def _simple_evaluate(lm_eval, model_dir: Path, settings, manager, device: str) -> dict[str, Any]:
    dtype = "bfloat16" if device.startswith("cuda") else "float32"
    return lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={Path(model_dir).resolve()},dtype={dtype}",
        tasks=list(settings.tasks),
        task_manager=manager,
        num_fewshot=settings.num_fewshot,
        limit=settings.limit,
        batch_size=settings.batch_size,
        device=device,
        log_samples=False,
    )


@contextlib.contextmanager
def _working_directory(folder: str | None):
    before = os.getcwd()
    if folder is not None:
        os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ModuleNotFoundError:
        return False
