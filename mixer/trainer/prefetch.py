"""Read the next global batch while the current one trains, so the GPU never waits for the data.

A background thread takes steps from `PhaseBatches` (memory-mapped reads, page-locked buffers on CUDA)
and hands them over through a queue; the training loop copies them to the device with `non_blocking=True`.
A thread rather than DataLoader worker processes: reading a step is tens of milliseconds of numpy, the
samples are in page cache or one memory-mapped read away, and a thread cannot outlive the process.

When the thread reads matters. Its Python code holds the interpreter lock, which the training loop needs to
launch kernels; at the start of a step the GPU has nothing queued and waits on every launch. So the loop
asks for the next step with `read_ahead()` once the current step's work is queued, just before it waits for
the GPU (a wait that releases the lock): the read overlaps the GPU finishing the step, and the next step is
ready when the loop comes back. `next_step()` asks for itself when nobody did, so forgetting `read_ahead()`
costs time, never a hang.

The data order does not change: the thread reads the steps in order, and the position a checkpoint records
(`consumed`) is that of the last step handed to the training loop, not of the steps read ahead, so a resumed
run starts at the first sample it has not trained on. `close()` (or leaving the `with` block, also through an
exception, Ctrl-C or the trainer's SIGTERM handler) stops and joins the thread.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

import torch

from mixer.trainer.data import PhaseBatches, Step

_END = object()  # the phase holds no further whole global batch


@dataclass
class _Failed:
    error: BaseException


class Prefetcher:
    """`next_step()` gives the steps of `batches` in order. With `enabled`, a thread reads up to `depth` steps
    beyond those handed out, when asked (`read_ahead()`, or `next_step()` finding none asked for); the first
    `depth` steps at once. `consumed` is the position after the last step handed out (what a checkpoint must
    record)."""

    def __init__(
        self,
        batches: PhaseBatches,
        *,
        enabled: bool = True,
        depth: int = 1,
        device: torch.device | None = None,
    ):
        if depth < 1:
            raise ValueError(f"prefetch depth must be at least 1, got {depth}")
        self.batches = batches
        self.consumed = batches.consumed
        self.enabled = enabled
        self.depth = depth
        self._device = device
        self._queue: queue.Queue = queue.Queue()
        self._permits = threading.Semaphore(depth)  # steps the thread may read; one per step asked for
        self._asked = depth  # steps asked of the thread so far
        self._taken = 0  # steps handed out so far
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ended = False
        if enabled:
            self._thread = threading.Thread(target=self._read, name="mixer-prefetch", daemon=True)
            self._thread.start()

    def read_ahead(self) -> None:
        """Let the thread read up to `depth` steps beyond those handed out (a no-op if it already may)."""
        while self.enabled and self._asked < self._taken + self.depth:
            self._asked += 1
            self._permits.release()

    def next_step(self) -> Step:
        """The next step's data; StopIteration at the end of the phase, the reader's error if it failed."""
        if not self.enabled:
            step = self.batches.next_step()
        else:
            if self._asked <= self._taken:  # nobody asked for this step yet
                self._asked += 1
                self._permits.release()
            item = _END if self._ended else self._get()
            if item is _END:
                self._ended = True
                raise StopIteration
            if isinstance(item, _Failed):
                raise item.error
            step = item
            self._taken += 1
        self.consumed = step.consumed
        return step

    def close(self) -> None:
        """Stop the thread and wait for it (a read in flight finishes first: milliseconds)."""
        self._stop.set()
        if self._thread is None:
            return
        # A read stuck on storage must not hold up the exit: the thread is a daemon and ends with the process.
        self._thread.join(timeout=30)
        self._drain()
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> None:
        try:
            if self._device is not None and self._device.type == "cuda":
                # Page-locked allocations belong to the current device; without this a thread starts on
                # GPU 0 and every rank would create a context there.
                torch.cuda.set_device(self._device)
            while self._wait_for_permit():
                try:
                    step = self.batches.next_step()
                except StopIteration:
                    self._put(_END)
                    return
                self._put(step)
        except BaseException as e:  # handed to the training loop, which raises it there
            self._put(_Failed(e))

    def _wait_for_permit(self) -> bool:
        while not self._stop.is_set():
            if self._permits.acquire(timeout=0.05):
                return not self._stop.is_set()
        return False

    def _put(self, item: object) -> None:
        self._queue.put(item)  # never blocks: the permits bound what is in the queue

    def _get(self) -> object:
        while True:
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._thread is None or not self._thread.is_alive():
                    if not self._queue.empty():
                        continue
                    raise RuntimeError("the data prefetch thread has stopped") from None

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
