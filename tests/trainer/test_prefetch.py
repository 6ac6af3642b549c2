"""The prefetcher: the same steps as reading in the loop, the position of the steps handed out (not of those
read ahead), errors raised in the training loop, and a thread that is always joined."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from mixer.mixing.reader import BlendReader
from mixer.trainer.data import PhaseBatches
from mixer.trainer.prefetch import Prefetcher


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "mixer-prefetch"]


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.001)
    return False


def as_lists(step):
    return (
        [b.tokens.tolist() for b in step.batches],
        [b.sources for b in step.batches],
        step.crcs.tolist(),
        step.consumed,
    )


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("consumed", [0, 12])
@pytest.mark.parametrize("ask", [True, False])
def test_prefetched_steps_are_the_steps_read_in_the_loop(blend, depth, consumed, ask):
    def batches():
        return PhaseBatches(blend, global_batch=4, micro_batch=2, consumed=consumed)

    reference = batches()
    want = [as_lists(reference.next_step()) for _ in range(reference.steps - consumed // 4)]
    got = []
    with Prefetcher(batches(), depth=depth) as loader:
        for _ in want:
            got.append(as_lists(loader.next_step()))
            if ask:  # as the training loop does; without it next_step asks for itself
                loader.read_ahead()
        with pytest.raises(StopIteration):
            loader.next_step()
        with pytest.raises(StopIteration):  # and stays at the end
            loader.next_step()
    assert got == want
    assert [g[3] for g in got] == list(range(consumed + 4, 33, 4))
    assert not prefetch_threads()


def test_the_thread_reads_when_asked_and_the_position_is_that_of_the_steps_handed_out(blend):
    batches = PhaseBatches(blend, global_batch=4, micro_batch=2)
    with Prefetcher(batches, depth=1) as loader:
        assert wait_for(lambda: batches.consumed == 4)  # the first step, read at once
        assert loader.consumed == 0
        assert loader.next_step().consumed == 4
        time.sleep(0.05)
        assert batches.consumed == 4  # not asked yet: the thread leaves the interpreter lock alone
        loader.read_ahead()
        loader.read_ahead()  # asking twice reads one step: depth 1
        assert wait_for(lambda: batches.consumed == 8)
        time.sleep(0.05)
        assert batches.consumed == 8 and loader.consumed == 4  # a checkpoint now records 4
        assert loader.next_step().consumed == 8 and loader.consumed == 8


def test_the_crcs_are_those_of_the_rows(blend):
    import zlib

    step = PhaseBatches(blend, global_batch=4, micro_batch=2).next_step()
    rows = [row for b in step.batches for row in b.tokens.numpy()]
    assert step.crcs.tolist() == [zlib.crc32(r.tobytes()) for r in rows]
    assert step.crcs.dtype == torch.int64 and not step.batches[0].tokens.is_pinned()


def test_off_reads_in_the_calling_thread(blend):
    with Prefetcher(PhaseBatches(blend, global_batch=4, micro_batch=2), enabled=False) as loader:
        assert not prefetch_threads() and not loader.running
        assert loader.next_step().consumed == 4 and loader.consumed == 4


class BrokenReader:
    """A reader whose sample `bad` cannot be read (a damaged shard, say)."""

    def __init__(self, reader: BlendReader, bad: int):
        self.reader, self.bad, self.seq_len = reader, bad, reader.seq_len

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, k: int):
        if k == self.bad:
            raise OSError(f"cannot read sample {k}")
        return self.reader[k]


def test_a_read_error_is_raised_in_the_training_loop_and_the_thread_ends(blend):
    with Prefetcher(PhaseBatches(BrokenReader(blend, 9), global_batch=4, micro_batch=2)) as loader:
        assert loader.next_step().consumed == 4
        assert loader.next_step().consumed == 8
        with pytest.raises(OSError, match="cannot read sample 9"):
            loader.next_step()
        assert wait_for(lambda: not loader.running)
    assert not prefetch_threads()


def test_leaving_early_through_an_exception_joins_the_thread(blend):
    with pytest.raises(KeyboardInterrupt):
        with Prefetcher(PhaseBatches(blend, global_batch=4, micro_batch=2), depth=2) as loader:
            loader.next_step()
            loader.read_ahead()
            assert wait_for(lambda: loader.batches.consumed == 12)  # two steps ahead, waiting to be asked
            raise KeyboardInterrupt  # as Ctrl-C in the training loop
    assert not loader.running and not prefetch_threads()


def test_close_is_idempotent_and_a_closed_prefetcher_says_so(blend):
    loader = Prefetcher(PhaseBatches(blend, global_batch=4, micro_batch=2))
    loader.close()
    loader.close()
    assert not prefetch_threads()
    with pytest.raises(RuntimeError, match="the data prefetch thread has stopped"):
        loader.next_step()
