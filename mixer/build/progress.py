"""How far a running pipeline is: a bar with percentage and ETA on a terminal, plain lines otherwise.

The tasks report what they have done in small files (the tokenize step's ``progress/<rank>.json``, datatrove's
completion markers); :class:`Progress` polls them from a thread of the build's process while the executor
runs. Progress is measured in bytes of the plan's input files when every size is known (compressed bytes
read so far, within a file too), else in files read. With ``--quiet`` nothing is shown.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mixer.build.plan import human_bytes


@dataclass(frozen=True)
class Reading:
    """What the tasks have done so far: ``done`` in the progress's unit, and what they produced."""

    done: int
    documents: int | None = None  # None: not counted by this pipeline
    tokens: int | None = None


class Progress:
    """Shows ``poll()`` against ``total`` while the block runs (see the module docstring).

    On a terminal (``stream.isatty()``) a bar is redrawn in place every :attr:`BAR_INTERVAL_S`, from 0% when
    the block starts to its last reading when it ends, and then erased; elsewhere a line goes to ``echo``
    every :attr:`INTERVAL_S`.
    """

    BAR_INTERVAL_S = 0.5
    INTERVAL_S = 10.0
    WIDTH = 24

    def __init__(
        self,
        label: str,
        total: int,
        unit: str,
        poll: Callable[[], Reading],
        echo: Callable[[str], None],
        *,
        stream: TextIO | None = None,
        show: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ):
        if unit not in ("bytes", "files"):
            raise ValueError(f"unit is bytes or files, not {unit!r}")
        self.label, self.total, self.unit, self.poll, self.echo = label, total, unit, poll, echo
        self.stream = stream if stream is not None else sys.stderr
        self.show = show
        self.clock = clock
        self.terminal = show and _isatty(self.stream)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._width = 0  # of the bar last drawn, to erase it
        self._drawn = ""

    def __enter__(self) -> Progress:
        self.started = self.clock()
        self.start_done = 0  # done before this run (work resumed): not part of its pace
        if self.show:
            first = self._read()
            self.start_done = first.done
            if self.terminal:
                self._draw(first)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.terminal:
            self._draw(self._read())
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def _loop(self) -> None:
        interval = self.BAR_INTERVAL_S if self.terminal else self.INTERVAL_S
        while not self._stop.wait(interval):
            reading = self._read()
            if self.terminal:
                self._draw(reading)
            else:
                self.echo(self.line(reading, self.clock()))

    def _read(self) -> Reading:
        try:
            return self.poll()
        except Exception:  # a report being replaced as it is read: the next poll sees it
            return Reading(0)

    def _draw(self, reading: Reading) -> None:
        text = self.bar(reading, self.clock())
        if text == self._drawn:
            return
        self._drawn = text
        pad = max(self._width - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def fraction(self, reading: Reading) -> float:
        if self.total <= 0:
            return 0.0
        return min(max(reading.done / self.total, 0.0), 1.0)

    def eta(self, reading: Reading, now: float) -> str:
        """The time left at the pace of this run so far (``--:--`` until there is one)."""
        elapsed = now - self.started
        progressed = reading.done - self.start_done
        if progressed <= 0 or elapsed <= 0:
            return "--:--"
        return clock_time(elapsed * max(self.total - reading.done, 0) / progressed)

    def amount(self, reading: Reading) -> str:
        if self.unit == "bytes":
            return f"{human_bytes(reading.done)} of {human_bytes(self.total)}"
        return f"{reading.done:,} of {self.total:,} files"

    def bar(self, reading: Reading, now: float) -> str:
        """One line for a terminal: ``web [#####-------]  42%  4.0 MB of 9.6 MB  1.2M tokens  ETA 0:08``."""
        fraction = self.fraction(reading)
        filled = int(fraction * self.WIDTH)
        tokens = f"  {human_count(reading.tokens)} tokens" if reading.tokens is not None else ""
        return (
            f"{self.label} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {fraction * 100:3.0f}%  "
            f"{self.amount(reading)}{tokens}  ETA {self.eta(reading, now)}"
        )

    def line(self, reading: Reading, now: float) -> str:
        """One line for a log: percentage, amount, documents, tokens, token rate and ETA."""
        elapsed = max(now - self.started, 1e-9)
        counts = ""
        if reading.documents is not None:
            counts += f"{reading.documents:,} documents, "
        if reading.tokens is not None:
            counts += f"{reading.tokens:,} tokens, {human_rate(reading.tokens / elapsed)} tokens/s, "
        return (
            f"  {self.label}: {self.fraction(reading) * 100:.0f}% ({self.amount(reading)}), "
            f"{counts}ETA {self.eta(reading, now)}"
        )


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def clock_time(seconds: float) -> str:
    """``0:07``, ``12:30``, ``1:02:03``."""
    s = int(round(seconds))
    hours, rest = divmod(s, 3600)
    minutes, s = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{s:02d}" if hours else f"{minutes}:{s:02d}"


def human_count(n: float) -> str:
    """``950``, ``12.3k``, ``4.56M``, ``1.20B``."""
    for limit, suffix, digits in ((1e9, "B", 2), (1e6, "M", 2), (1e3, "k", 1)):
        if abs(n) >= limit:
            return f"{n / limit:.{digits}f}{suffix}"
    return f"{n:.0f}"


def human_rate(per_second: float) -> str:
    """A rate at a precision that never reads as zero when it is not: ``2.6k``, ``0.4``, ``1.13M``."""
    if 0 < per_second < 10:
        return f"{per_second:.1f}"
    return human_count(per_second)


def tokenize_progress(
    name: str, sizes: list[int], folder: Path, echo: Callable[[str], None], show: bool
) -> Progress:
    """The progress of a source's tokenize pipeline over the files still to do (``sizes``, -1 unknown),
    from its tasks' reports in ``folder`` (``<rank>.json``: files read, bytes read, documents, tokens)."""
    by_bytes = bool(sizes) and all(size > 0 for size in sizes)

    def poll() -> Reading:
        total = {"files_read": 0, "bytes": 0, "documents": 0, "tokens": 0}
        for path in folder.glob("*.json") if folder.is_dir() else []:
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # being replaced right now
            for key in total:
                total[key] += int(data.get(key, 0))
        done = total["bytes"] if by_bytes else total["files_read"]
        return Reading(done, total["documents"], total["tokens"])

    total = sum(sizes) if by_bytes else len(sizes)
    return Progress(name, total, "bytes" if by_bytes else "files", poll, echo, show=show and _shown())


def signatures_progress(
    name: str, sizes: list[int], logging_dir: Path, echo: Callable[[str], None], show: bool
) -> Progress:
    """The progress of a source's dedup signatures: one task per input file (``sizes``, -1 unknown), done
    when datatrove marks it complete (``completions/<rank>`` under the pipeline's logging folder)."""
    by_bytes = bool(sizes) and all(size > 0 for size in sizes)
    completions = logging_dir / "completions"

    def poll() -> Reading:
        ranks = (
            [int(p.name) for p in completions.iterdir() if p.name.isdigit()] if completions.is_dir() else []
        )
        done = sum(sizes[r] for r in ranks if r < len(sizes)) if by_bytes else len(ranks)
        return Reading(done)

    total = sum(sizes) if by_bytes else len(sizes)
    return Progress(
        f"dedup {name}", total, "bytes" if by_bytes else "files", poll, echo, show=show and _shown()
    )


def _shown() -> bool:
    from mixer.build.logs import Verbosity, verbosity

    return verbosity() is not Verbosity.QUIET
