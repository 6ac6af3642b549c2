"""Which device a process trains on: `--device cuda` (no index) is this rank's GPU. No GPU needed: the choice
is a pure function, and these tests make any call into CUDA fail."""

from __future__ import annotations

import os

import pytest
import torch

from mixer.trainer import dist
from mixer.trainer.dist import DeviceError, choose_device


@pytest.fixture(autouse=True)
def no_cuda_calls(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("choose_device called into CUDA")

    monkeypatch.setattr(torch.cuda, "is_available", refuse)
    monkeypatch.setattr(torch.cuda, "set_device", refuse)
    monkeypatch.setattr(torch.cuda, "device_count", refuse)


@pytest.fixture
def local_rank(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "3")  # as torchrun sets it for the fourth process on a node
    return int(os.environ["LOCAL_RANK"])


@pytest.mark.parametrize(
    ("requested", "cuda_available", "expected"),
    [
        ("cuda", True, torch.device("cuda", 3)),  # the fix: an index-less GPU is this rank's
        ("cuda:1", True, torch.device("cuda", 1)),  # an explicit index wins
        ("cuda:0", True, torch.device("cuda", 0)),
        ("cpu", True, torch.device("cpu")),
        ("cpu", False, torch.device("cpu")),
        (None, True, torch.device("cuda", 3)),  # the default: this rank's GPU when there is one
        (None, False, torch.device("cpu")),  # else the CPU
    ],
)
def test_device_choice(local_rank, requested, cuda_available, expected):
    device = choose_device(requested, local_rank, cuda_available)
    assert device == expected
    assert device.type != "cuda" or device.index is not None  # torch.cuda.set_device needs the index


def test_index_less_cuda_is_the_local_rank_of_each_process():
    assert [choose_device("cuda", rank, True) for rank in range(4)] == [
        torch.device("cuda", r) for r in range(4)
    ]


def test_cuda_without_a_gpu_is_a_clear_error(local_rank):
    with pytest.raises(DeviceError, match=r"--device cuda asks for a GPU, but torch sees none"):
        choose_device("cuda", local_rank, False)
    with pytest.raises(DeviceError, match=r"--device cuda:1 asks for a GPU"):
        choose_device("cuda:1", local_rank, False)


def test_a_name_that_is_no_device_is_refused(local_rank):
    with pytest.raises(DeviceError, match=r"--device 'gpu' is not a torch device; use cuda, cuda:N, cpu"):
        choose_device("gpu", local_rank, True)


def test_setup_passes_the_local_rank_and_sets_an_indexed_device(monkeypatch, local_rank):
    """`setup("cuda")` under LOCAL_RANK=3 sets cuda:3, never the index-less device torch refuses."""
    seen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", seen.append)
    monkeypatch.delenv("WORLD_SIZE", raising=False)  # one process: no process group
    d = dist.setup("cuda")
    assert seen == [torch.device("cuda", 3)] and d.device == torch.device("cuda", 3)
    assert d.local_rank == 3
