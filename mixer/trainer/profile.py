"""`profile_at`: a torch.profiler trace of a few training steps, and the ops and kernels that took the most
time in them, so that a run short of its throughput target shows what limits it.

Steps `profile_at .. profile_at + profile_steps - 1` (1-based, as logged) run under the profiler; after them
`<run>/profile/` holds, per rank `r`:

    trace-rank<r>.json.gz   the Chrome/Perfetto trace (open it in https://ui.perfetto.dev)
    top-rank<r>.txt         torch's table of ops and kernels, sorted by self time on the device (on a CPU
                            run: self CPU time)
    top-rank<r>.json        the same rows as data: name, calls, self and total device and CPU milliseconds

The profiled steps are marked `"profiled": true` in metrics.jsonl (their timings include the profiler's
overhead). A profiler that cannot start (no CUPTI, say) is reported and the run goes on without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

TOP_ROWS = 30


class StepProfiler:
    """Starts the profiler before step `start`, stops it after step `start + count - 1`, writes the results."""

    def __init__(
        self,
        folder: Path,
        start: int | None,
        count: int,
        device: torch.device,
        rank: int,
        say: Callable[[str], None],
    ):
        self.folder, self.start, self.count, self.device, self.rank, self.say = (
            folder,
            start,
            count,
            device,
            rank,
            say,
        )
        self._prof: torch.profiler.profile | None = None

    def active(self, step: int) -> bool:
        """Whether step `step` (1-based) is one of the profiled steps."""
        return self.start is not None and self.start <= step < self.start + self.count

    def before(self, step: int) -> None:
        """Call before running step `step` (1-based)."""
        if step != self.start or self._prof is not None:
            return
        activities = [torch.profiler.ProfilerActivity.CPU]
        if self.device.type == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        try:
            self._prof = torch.profiler.profile(activities=activities)
            self._prof.__enter__()
        except Exception as e:  # a missing CUPTI must not stop a training run
            self._prof = None
            self.say(f"note: the profiler did not start ({type(e).__name__}: {e}); profiling is off")

    def after(self, step: int) -> None:
        """Call after step `step` (1-based) has finished (device work included)."""
        if self._prof is not None and self.start is not None and step == self.start + self.count - 1:
            self._finish(self._prof)

    def close(self) -> None:
        """Stop a profiler still running (the run ended or failed inside the profiled steps)."""
        if self._prof is not None:
            self._finish(self._prof)

    def _finish(self, prof: torch.profiler.profile) -> None:
        self._prof = None
        try:
            self._write(prof)
        except Exception as e:  # the profile is a diagnosis: losing it must not lose the run
            self.say(f"note: the profile could not be written ({type(e).__name__}: {e})")

    def _write(self, prof: torch.profiler.profile) -> None:
        prof.__exit__(None, None, None)
        self.folder.mkdir(parents=True, exist_ok=True)
        on_device = self.device.type == "cuda"
        averages = prof.key_averages()
        sort_by = "self_device_time_total" if on_device else "self_cpu_time_total"
        (self.folder / f"top-rank{self.rank}.txt").write_text(
            averages.table(sort_by=sort_by, row_limit=TOP_ROWS) + "\n"
        )
        rows = sorted(averages, key=lambda e: getattr(e, sort_by), reverse=True)[:TOP_ROWS]
        (self.folder / f"top-rank{self.rank}.json").write_text(
            json.dumps([_row(e) for e in rows], indent=1) + "\n"
        )
        trace = self.folder / f"trace-rank{self.rank}.json.gz"
        prof.export_chrome_trace(str(trace))
        self.say(f"profile of steps {self.start}-{self.start + self.count - 1} ({self.count}): {self.folder}")


def _row(e: Any) -> dict[str, Any]:
    return {
        "name": e.key,
        "calls": e.count,
        "self_device_ms": e.self_device_time_total / 1e3,
        "device_ms": e.device_time_total / 1e3,
        "self_cpu_ms": e.self_cpu_time_total / 1e3,
        "cpu_ms": e.cpu_time_total / 1e3,
    }
