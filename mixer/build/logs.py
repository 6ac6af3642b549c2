"""Where a build's messages go: mixer's own lines to the console, the libraries' logs to files under ``work/``.

datatrove logs every task through loguru: its pipeline, its stats and its progress, at INFO, in colour, to
the console of every worker. mixer keeps all of that, but in files:

- each pipeline task's full log (DEBUG) in datatrove's task log file, ``logs/task_NNNNN.log`` under the
  pipeline's logging folder (``work/sources/<source>/<key>/datatrove/``, ``work/dedup/<key>/logs/...``);
- the build process's own records (the executors' summaries, other libraries' ``logging`` and warnings) in
  ``<output>/work/build.log``.

The console shows, by :class:`Verbosity`: ``quiet`` errors only; ``normal`` (the default) mixer's own
warnings and any library's errors; ``verbose`` everything at INFO, datatrove's task logs included.
Worker processes start from a fresh interpreter (a fork server), so each applies the setting itself when
it runs a task (:func:`route_task_logs`, called by mixer's executor).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Verbosity(str, enum.Enum):
    QUIET = "quiet"
    NORMAL = "normal"
    VERBOSE = "verbose"


# the setting of this process: set by build_logging, carried to the workers by mixer's executor
_verbosity = Verbosity.NORMAL
_build_log: Any = None  # the open build log of the build running in this process

FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}"


def verbosity() -> Verbosity:
    return _verbosity


def console_filter(level: Verbosity) -> Any:
    """Which loguru records reach the console at ``level`` (see the module docstring)."""
    error = logging.ERROR
    warning = logging.WARNING

    def shown(record: dict[str, Any]) -> bool:
        if record["exception"] is not None and level is not Verbosity.VERBOSE:
            # datatrove logs a task's exception on its way out; the build receives it and reports it once
            # (a clear message, or a bug's traceback), and the task's log file keeps this copy
            return False
        no = record["level"].no
        if level is Verbosity.VERBOSE:
            return no >= logging.INFO
        if level is Verbosity.QUIET:
            return no >= error
        return no >= error or (no >= warning and (record["name"] or "").startswith("mixer"))

    return shown


def _console(level: Verbosity) -> None:
    """This process's loguru sinks outside a task: the console as ``level`` allows, and the build log."""
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, format="{level}: {message}", colorize=False, filter=console_filter(level))
    if _build_log is not None:
        logger.add(LogFile(_build_log), level="DEBUG", format=FORMAT, colorize=False)


def route_task_logs(level: Verbosity) -> None:
    """Send datatrove's task logging in this process to its task log files and the console as ``level``
    allows, and other libraries' ``logging`` and warnings into loguru (so into the same files).

    datatrove's ``add_task_logger`` adds an INFO console sink in colour for every task and its
    ``close_task_logger`` restores a default one; they are replaced here by versions that keep the task
    log file (DEBUG, no colour) and put the console sink behind :func:`console_filter`.
    """
    global _verbosity
    import datatrove.executor.base as executor_base
    from loguru import logger

    _verbosity = level
    _console(level)
    _stdlib_logging_into_loguru()

    def add_task_logger(logging_dir, rank, local_rank=0, node_rank=-1):
        logger.remove()
        logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
        logger.add(LogFile(logfile), level="DEBUG", format=FORMAT, colorize=False)
        shown = console_filter(_verbosity if local_rank == 0 else Verbosity.QUIET)
        logger.add(sys.stderr, format="{level}: {message}", colorize=False, filter=shown)
        logger.info(f"Launching pipeline for {rank=}")
        return logfile

    def close_task_logger(logfile):
        logger.complete()
        _console(_verbosity)
        logfile.close()

    executor_base.add_task_logger = add_task_logger
    executor_base.close_task_logger = close_task_logger


class LogFile:
    """A log file as a loguru sink that stops quietly when it cannot be written (a full disk): loguru would
    print a "Logging error" block to the console for every record, before the build reports the full disk."""

    def __init__(self, file: Any) -> None:
        self.file, self.broken = file, False

    def write(self, message: str) -> None:
        if self.broken:
            return
        try:
            self.file.write(message)
            self.file.flush()
        except OSError:
            self.broken = True


class _IntoLoguru(logging.Handler):
    """A standard ``logging`` record handed to loguru, under its own logger's name and level."""

    def emit(self, record: logging.LogRecord) -> None:
        from loguru import logger

        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.patch(lambda r: r.update(name=record.name)).opt(exception=record.exc_info).log(
            level, record.getMessage()
        )


def _stdlib_logging_into_loguru() -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _IntoLoguru) for h in root.handlers):
        root.addHandler(_IntoLoguru())
    logging.captureWarnings(True)  # warnings.warn(...) -> the "py.warnings" logger -> loguru


@contextlib.contextmanager
def build_logging(work: Path, level: Verbosity = Verbosity.NORMAL) -> Iterator[Path]:
    """For the length of a build: the console as ``level`` allows, everything else in ``work/build.log``."""
    global _build_log, _verbosity
    from loguru import logger

    previous = _verbosity
    work.mkdir(parents=True, exist_ok=True)
    path = work / "build.log"
    root = logging.getLogger()
    handlers = list(root.handlers)
    with open(path, "a", encoding="utf-8") as log:
        _build_log = log
        try:
            route_task_logs(level)
            yield path
        finally:
            logger.complete()
            _build_log = None
            _verbosity = previous
            _console(previous)
            root.handlers[:] = handlers
            logging.captureWarnings(False)
