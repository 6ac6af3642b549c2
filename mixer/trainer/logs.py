"""What a run reports: `metrics.jsonl` (one JSON object per event), TensorBoard scalars, progress lines.

Only rank 0 writes. Every line of `metrics.jsonl` has `"event"`: `"step"` (loss, LR, gradient norm, tokens/s,
MFU, the data loader's share of the step, the digest of the global batch's samples) or `"eval"` (loss and
bits per byte per source). A resumed run appends; where it repeats steps the later lines are the ones
that count. A line torn by a kill mid-write is skipped by `read_metrics` and cut off before the next append.

MFU = achieved FLOP/s / peak FLOP/s, with the training FLOPs per token 6 N + 12 L d T of
`mixer.trainer.model.flops_per_token` (PaLM's convention: N the non-embedding parameters, the attention
term counting the full T x T score matrix) and the peak dense bf16 tensor-core rate of the device, looked
up by its name in `PEAK_BF16_TFLOPS` or given by `train.peak_tflops`. Without a known peak (a CPU, an
unlisted GPU, fp32 training) MFU is left out rather than guessed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

# Dense (no sparsity) bf16 tensor-core peaks from the vendors' data sheets, matched by substring of
# torch.cuda.get_device_name(), most specific first.
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("GH200", 989.4),
    ("H200 NVL", 835.5),
    ("H200", 989.4),  # SXM
    ("H100 PCIe", 756.0),
    ("H100", 989.4),  # SXM and NVL
    ("B200", 2250.0),
    ("A100", 312.0),
    ("A800", 312.0),
    ("L40S", 362.1),
    ("L40", 181.0),
    ("L4", 121.0),
    ("A10", 125.0),
    ("RTX 4090", 165.2),
    ("RTX 3090", 71.0),
)


def peak_flops(device: torch.device, precision: str, override_tflops: float | None) -> float | None:
    """Peak FLOP/s for MFU, or None when unknown."""
    if override_tflops is not None:
        return override_tflops * 1e12
    if device.type != "cuda" or precision != "bf16":
        return None
    tflops = peak_bf16_tflops(torch.cuda.get_device_name(device))
    return None if tflops is None else tflops * 1e12


def peak_bf16_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of a GPU from its name (as `torch.cuda.get_device_name` gives it), or None."""
    for key, tflops in PEAK_BF16_TFLOPS:
        if key in device_name:
            return tflops
    return None


class RunLog:
    """Append-only metrics for one phase run (rank 0; other ranks get a log that writes nothing)."""

    def __init__(self, folder: Path, enabled: bool, echo=print):
        self.enabled, self.echo = enabled, echo
        self.path = folder / "metrics.jsonl"
        self._tb = None
        if not enabled:
            return
        folder.mkdir(parents=True, exist_ok=True)
        _repair_tail(self.path)
        self._file = self.path.open("a", encoding="utf-8")
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            echo("note: TensorBoard logging is off (pip install tensorboard); metrics.jsonl has everything")
        else:
            self._tb = SummaryWriter(str(folder / "tensorboard"))

    def write(self, event: str, step: int, values: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._file.write(json.dumps({"event": event, "step": step, **values}) + "\n")
        self._file.flush()
        if self._tb is not None:
            for key, value in _scalars(values):
                self._tb.add_scalar(f"{event}/{key}", value, step)

    def close(self) -> None:
        if self.enabled:
            self._file.close()
            if self._tb is not None:
                self._tb.close()


def _scalars(values: dict[str, Any], prefix: str = "") -> list[tuple[str, float]]:
    out = []
    for key, value in values.items():
        if isinstance(value, dict):
            out += _scalars(value, f"{prefix}{key}/")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out.append((prefix + key, float(value)))
    return out


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The events of a `metrics.jsonl`, keeping only the last line for each (event, step) pair.

    A final line cut short (the run was killed while writing it) is left out; a bad line anywhere else is
    an error that names it.
    """
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):  # no newline after it: a torn write
                continue
            raise ValueError(f"{path}:{number}: not a JSON line; the metrics file is damaged") from None
        latest[(record["event"], record["step"])] = record
    return sorted(latest.values(), key=lambda r: (r["step"], r["event"]))


def _repair_tail(path: Path) -> None:
    """Before appending: end the file at its last complete line, so a torn write is not glued to the next.

    Lines are written whole and flushed, so only the last one can be incomplete, and only when a run was
    killed mid-write. A final line that is complete JSON but lost its newline gets the newline back.
    """
    if not path.is_file():
        return
    with path.open("r+b") as f:
        size = f.seek(0, 2)
        if size == 0:
            return
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return
        # find where the last complete line ends, reading backwards in blocks
        end, block = size, 1 << 16
        while end > 0:
            start = max(0, end - block)
            f.seek(start)
            chunk = f.read(end - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                cut = start + newline + 1
                break
            end = start
        else:
            cut = 0
        f.seek(cut)
        tail = f.read()
        try:
            json.loads(tail)
        except ValueError:
            f.truncate(cut)
        else:
            f.write(b"\n")
