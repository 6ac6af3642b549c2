"""Trainer tests run on one CPU thread.

The models here are tiny (64-wide), so extra threads buy nothing, and on a busy machine OpenMP's threads
spin-wait for each other on every small matmul: the overfitting test took 0.4 s on one thread and 10-20 s on
two while other processes shared the CPU. One thread also keeps the float results independent of the core count.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
