"""Run logs: metrics.jsonl survives a kill mid-write; the MFU peak is looked up by device name."""

from __future__ import annotations

import json

import pytest
import torch

from mixer.trainer.logs import RunLog, peak_bf16_tflops, peak_flops, read_metrics

STEP_1 = {"event": "step", "step": 1, "loss": 5.0}
STEP_2 = {"event": "step", "step": 2, "loss": 4.5}
STEP_3 = {"event": "step", "step": 3, "loss": 4.25}


def lines(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def test_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(lines(STEP_1, STEP_2) + json.dumps(STEP_3)[:17])  # killed while writing step 3
    assert read_metrics(path) == [STEP_1, STEP_2]


def test_a_complete_last_line_without_its_newline_counts(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(lines(STEP_1) + json.dumps(STEP_2))
    assert read_metrics(path) == [STEP_1, STEP_2]


def test_a_bad_line_before_the_last_is_an_error_naming_it(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(lines(STEP_1) + '{"event": "st\n' + lines(STEP_2))
    with pytest.raises(ValueError, match=rf"^{path}:2: not a JSON line"):
        read_metrics(path)


@pytest.mark.parametrize(
    ("tail", "kept"),
    [
        (json.dumps(STEP_2)[:17], [STEP_1]),  # torn: cut off
        (json.dumps(STEP_2), [STEP_1, STEP_2]),  # whole but unterminated: newline added
        ("", [STEP_1]),  # nothing to repair
    ],
    ids=["torn", "unterminated", "intact"],
)
def test_appending_after_a_torn_line_repairs_the_file_first(tmp_path, tail, kept):
    path = tmp_path / "metrics.jsonl"
    path.write_text(lines(STEP_1) + tail)
    log = RunLog(tmp_path, enabled=True, echo=lambda _: None)
    log.write("step", 3, {"loss": 4.25})
    log.close()
    assert path.read_text() == lines(*kept, STEP_3)  # every line whole, none glued to the next
    assert read_metrics(path) == [*kept, STEP_3]


def test_a_torn_line_that_is_the_whole_file_is_removed(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps(STEP_1)[:5])
    assert read_metrics(path) == []
    RunLog(tmp_path, enabled=True, echo=lambda _: None).close()
    assert path.read_bytes() == b""


@pytest.mark.parametrize(
    ("name", "tflops"),
    [
        ("NVIDIA H100 80GB HBM3", 989.4),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA H100 NVL", 989.4),
        ("NVIDIA H200", 989.4),
        ("NVIDIA H200 NVL", 835.5),
        ("NVIDIA GH200 480GB", 989.4),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA A100 80GB PCIe", 312.0),
        ("NVIDIA A10", 125.0),
        ("NVIDIA L40S", 362.1),
        ("NVIDIA L4", 121.0),
        ("NVIDIA B200", 2250.0),
        ("Tesla T4", None),
        ("Tesla V100-SXM2-16GB", None),
    ],
)
def test_peak_by_device_name(name, tflops):
    assert peak_bf16_tflops(name) == tflops


def test_peak_flops_on_a_gpu_uses_its_name_and_the_override_wins(monkeypatch):
    gpu = torch.device("cuda", 0)
    asked = []
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: asked.append(device) or "NVIDIA H200")
    assert peak_flops(gpu, "bf16", None) == 989.4e12
    assert asked == [gpu]
    assert peak_flops(gpu, "fp32", None) is None  # no bf16 tensor cores in use: MFU left out
    assert peak_flops(gpu, "bf16", 400.0) == 400e12
    assert peak_flops(gpu, "fp32", 400.0) == 400e12  # the user's peak, whatever the precision
    assert peak_flops(torch.device("cpu"), "bf16", None) is None
    assert asked == [gpu]  # neither the override nor fp32 nor a CPU looks the name up
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: "Tesla T4")
    assert peak_flops(gpu, "bf16", None) is None
