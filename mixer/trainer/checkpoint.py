"""Checkpoints: model and optimizer through torch distributed checkpoint (DCP), the rest as small files.

A checkpoint is a folder:

    step-000400/            (or final/)
      .metadata, *.distcp   DCP: {"model": ..., "optim": ...}, each rank writing its own shards, so DDP and
                            FSDP runs save without gathering and load into any number of processes
      state.json            step, consumed samples, the LR schedule and its last LR, the blend and tokenizer
                            fingerprints, the model config, the settings, the checkpoint it started from
      rng/rank-<r>.pt       each rank's torch RNG state

It is written to `<name>.tmp/` and renamed into place once every rank has finished, so a folder without the
suffix is always complete; a run killed while saving leaves a `.tmp` folder that the next start removes.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    get_model_state_dict,
    get_state_dict,
    set_model_state_dict,
    set_state_dict,
)

from mixer.atomic import write_json_atomic
from mixer.trainer.dist import Dist
from mixer.trainer.model import ModelConfig

STATE_FILE = "state.json"
FINAL = "final"
STEP_PATTERN = re.compile(r"^step-(\d+)$")


@contextlib.contextmanager
def _quiet_single_process() -> Iterator[None]:
    # DCP warns that it "assumes the intent is to save in a single process" whenever no process group exists:
    # that is exactly this trainer's single-process mode.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        yield


def step_name(step: int) -> str:
    return f"step-{step:06d}"


def save(
    folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any], d: Dist
) -> Path:
    """Write a complete checkpoint to `folder` (collective: every rank calls it)."""
    tmp = folder.with_name(folder.name + ".tmp")
    if d.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "rng").mkdir(parents=True)
    d.barrier()
    model_sd, optim_sd = get_state_dict(model, optimizer)
    with _quiet_single_process():
        dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=tmp)
    torch.save(_rng_state(), tmp / "rng" / f"rank-{d.rank}.pt")
    d.barrier()
    if d.is_main:
        write_json_atomic(tmp / STATE_FILE, state)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    d.barrier()
    return folder


def read_state(folder: Path) -> dict[str, Any]:
    """The `state.json` of a checkpoint folder, with a clear error when the folder is not one."""
    file = Path(folder) / STATE_FILE
    if not file.is_file():
        raise FileNotFoundError(
            f"{folder}: not a mixer checkpoint (no {STATE_FILE}); pass a run's checkpoint folder such as "
            f"runs/<name>/<phase>/{FINAL}"
        )
    return json.loads(file.read_text())


def load(
    folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None, d: Dist, *, restore_rng: bool
) -> dict[str, Any]:
    """Load weights (and optimizer moments when `optimizer` is given) from a checkpoint into the live objects.

    RNG states are restored only when asked and when the checkpoint has one for this rank.
    """
    state = read_state(folder)
    wanted: dict[str, Any]
    if optimizer is None:
        wanted = {"model": get_model_state_dict(model)}
    else:
        model_sd, optim_sd = get_state_dict(model, optimizer)
        wanted = {"model": model_sd, "optim": optim_sd}
    with _quiet_single_process():
        dcp.load(wanted, checkpoint_id=folder)
    if optimizer is None:
        set_model_state_dict(model, wanted["model"])
    else:
        set_state_dict(model, optimizer, model_state_dict=wanted["model"], optim_state_dict=wanted["optim"])
    rng_file = Path(folder) / "rng" / f"rank-{d.rank}.pt"
    if restore_rng and rng_file.is_file():
        _set_rng_state(torch.load(rng_file, weights_only=False))
    return state


def load_weights(folder: Path) -> tuple[ModelConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """The model config, a plain (unsharded, CPU) state dict and the state of a checkpoint: for export."""
    from mixer.trainer.model import GPT

    state = read_state(folder)
    config = ModelConfig(**state["model_config"])
    with torch.device("meta"):
        model = GPT(config)
    model.to_empty(device="cpu")
    sd = model.state_dict()
    with _quiet_single_process():
        dcp.load({"model": sd}, checkpoint_id=folder)
    return config, sd, state


def latest(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a phase run (`final` wins), or None."""
    if (run_dir / FINAL / STATE_FILE).is_file():
        return run_dir / FINAL
    steps = sorted(
        (int(m.group(1)), p)
        for p in run_dir.glob("step-*")
        if (m := STEP_PATTERN.match(p.name)) and (p / STATE_FILE).is_file()
    )
    return steps[-1][1] if steps else None


def clean(run_dir: Path, keep: int) -> None:
    """Remove unfinished `.tmp` checkpoints and all but the newest `keep` step checkpoints."""
    for tmp in run_dir.glob("*.tmp"):
        shutil.rmtree(tmp, ignore_errors=True)
    steps = sorted((int(m.group(1)), p) for p in run_dir.glob("step-*") if (m := STEP_PATTERN.match(p.name)))
    for _, path in steps[: max(0, len(steps) - keep)]:
        shutil.rmtree(path, ignore_errors=True)


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
