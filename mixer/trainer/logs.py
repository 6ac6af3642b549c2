"""What a run reports: `metrics.jsonl` (one JSON object per event), TensorBoard scalars, progress lines.

Only rank 0 writes. Every line of `metrics.jsonl` has `"event"`: `"step"` (loss, LR, gradient norm, tokens/s,
MFU, the data loader's share of the step, the digest of the global batch's samples) or `"eval"` (loss and
bits per byte per source). A resumed run appends; where it repeats steps the later lines are the ones
that count.

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
    ("H200", 989.4),
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
    name = torch.cuda.get_device_name(device)
    for key, tflops in PEAK_BF16_TFLOPS:
        if key in name:
            return tflops * 1e12
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
    """The events of a `metrics.jsonl`, keeping only the last line for each (event, step) pair."""
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            latest[(record["event"], record["step"])] = record
    return sorted(latest.values(), key=lambda r: (r["step"], r["event"]))
