"""Running pipelines on datatrove's executors: local processes, a Ray cluster, or Slurm jobs."""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from mixer.errors import MissingDependency, PlanError
from mixer.recipe import ExecutorConfig

TASKS_PER_WORKER = 8


@dataclass(frozen=True)
class ExecutorChoice:
    """The executor settings in force after the CLI's flags override the recipe's ``executor:`` block."""

    type: str
    tasks: int
    workers: int
    config: ExecutorConfig


def choose_executor(
    config: ExecutorConfig, *, type: str | None = None, tasks: int | None = None, workers: int | None = None
) -> ExecutorChoice:
    kind = type or config.type
    if kind == "slurm" and config.slurm is None:
        raise PlanError(
            "--executor slurm needs an executor.slurm block in the recipe (at least its partition)"
        )
    cpus = os.cpu_count() or 1
    workers = workers or config.workers or cpus
    # Several tasks per worker by default: a task is a set of whole files, so more, smaller tasks
    # balance uneven file sizes across workers. The build caps this at the number of files.
    tasks = tasks or config.tasks or TASKS_PER_WORKER * workers
    return ExecutorChoice(type=kind, tasks=tasks, workers=min(workers, tasks), config=config)


def quiet_datatrove_console() -> None:
    """Keep datatrove's per-task INFO chatter in its log files; only warnings reach the console.

    datatrove's task logger prints every INFO line of every task to stderr, and resets the console
    logger to INFO after each task; mixer prints its own progress instead. The task log files
    (``work/.../datatrove/logs/``) keep the full DEBUG log. ``MIXER_VERBOSE=1`` restores the chatter.
    """
    import datatrove.executor.base as executor_base
    from loguru import logger

    level = "INFO" if os.environ.get("MIXER_VERBOSE") else "WARNING"

    def console() -> None:
        logger.remove()
        logger.add(sys.stderr, level=level, format="{level}: {message}", colorize=False)

    console()
    if getattr(executor_base.add_task_logger, "_mixer_quiet", False):
        return

    def add_task_logger(logging_dir, rank, local_rank=0, node_rank=-1):
        # datatrove's own version, less its INFO-level console sink
        logger.remove()
        logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
        logger.add(logfile, level="DEBUG", colorize=False)
        logger.info(f"Launching pipeline for {rank=}")
        console_level = level if local_rank == 0 else "ERROR"
        logger.add(sys.stderr, level=console_level, format="{level}: {message}", colorize=False)
        return logfile

    def close_task_logger(logfile):
        logger.complete()
        console()
        logfile.close()

    add_task_logger._mixer_quiet = True  # type: ignore[attr-defined]
    executor_base.add_task_logger = add_task_logger
    executor_base.close_task_logger = close_task_logger


def _start_workers_deaf_to_ctrl_c() -> None:
    """Start multiprocess's fork server (the parent of datatrove's pool workers) with SIGINT ignored.

    Ctrl-C reaches every process of the terminal's process group. The build's own process turns it into
    KeyboardInterrupt, leaves the pool (which terminates its workers) and tells the user how to resume;
    a worker that took it too would die printing a KeyboardInterrupt traceback. A disposition of "ignore"
    survives exec, so Python in the fork server installs no KeyboardInterrupt handler and every worker it
    forks inherits "ignore" from its first instant (see :func:`_workers_pass_ctrl_c_to_programs` for the
    programs a worker runs). Does nothing when the fork server is already running or off the main thread.
    """
    from multiprocess import forkserver

    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def _do_nothing(signum: int, frame: object) -> None:
    pass


def _workers_pass_ctrl_c_to_programs(data: object, rank: int = 0, world_size: int = 1) -> None:
    """The first step of a pipeline run in a pool worker: still deaf to Ctrl-C, but through a handler
    that does nothing rather than "ignore", because exec resets a handler (not "ignore") to the default:
    the programs the worker starts (git) then stop at Ctrl-C like every other process of the terminal.
    """
    signal.signal(signal.SIGINT, _do_nothing)
    return None


def run_pipeline(
    pipeline: list, choice: ExecutorChoice, logging_dir: Path, job_name: str, skip_completed: bool = False
) -> bool:
    """Run ``pipeline`` over ``choice.tasks`` tasks; return True when it finished here (False: submitted).

    ``skip_completed``: datatrove skips tasks it finished before (for pipelines whose unit of resume is the
    task; the tokenize pipeline resumes per input file, finer than that, and leaves it off).
    """
    quiet_datatrove_console()
    if choice.type == "local":
        from datatrove.executor import LocalPipelineExecutor

        if choice.workers > 1:  # a pool of worker processes; with one worker the tasks run in this process
            _start_workers_deaf_to_ctrl_c()
            pipeline = [_workers_pass_ctrl_c_to_programs, *pipeline]
        executor = LocalPipelineExecutor(
            pipeline,
            tasks=choice.tasks,
            workers=choice.workers,
            logging_dir=str(logging_dir),
            skip_completed=skip_completed,
        )
        executor.run()
        return True
    if choice.type == "ray":
        try:
            import ray
            from datatrove.executor.ray import RayPipelineExecutor
        except ImportError as e:
            raise MissingDependency("ray", "executor.type: ray", extra="ray") from e
        settings = choice.config.ray
        if not ray.is_initialized():
            ray.init(
                address=settings.address if settings else None, log_to_driver=False, include_dashboard=False
            )
        executor = RayPipelineExecutor(
            pipeline,
            tasks=choice.tasks,
            workers=choice.workers,
            logging_dir=str(logging_dir),
            skip_completed=skip_completed,
            cpus_per_task=settings.cpus_per_task if settings else 1,
        )
        executor.run()
        return True
    from datatrove.executor import SlurmPipelineExecutor

    slurm = choice.config.slurm
    assert slurm is not None  # choose_executor checked it
    executor = SlurmPipelineExecutor(
        pipeline,
        tasks=choice.tasks,
        workers=choice.workers,
        time=slurm.time,
        partition=slurm.partition,
        cpus_per_task=slurm.cpus_per_task,
        mem_per_cpu_gb=slurm.mem_per_cpu_gb,
        qos=slurm.qos or "normal",
        sbatch_args=dict(slurm.sbatch_args),
        env_command=slurm.env_command,
        job_name=job_name,
        logging_dir=str(logging_dir),
        skip_completed=skip_completed,
    )
    executor.run()
    return False
