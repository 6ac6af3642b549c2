"""Running pipelines on datatrove's executors: local processes, a Ray cluster, or Slurm jobs."""

from __future__ import annotations

import os
import signal
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
    work: Path | None = None  # the build's work folder: where submitted Slurm jobs are recorded


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
    """Keep datatrove's task logs in their files; the console shows what the build's verbosity allows
    (see :mod:`mixer.build.logs`). For scripts that run pipelines outside ``mixer build``."""
    from mixer.build.logs import route_task_logs, verbosity

    route_task_logs(verbosity())


def _start_workers_deaf_to_ctrl_c() -> None:
    """Start multiprocess's fork server (the parent of datatrove's pool workers) with SIGINT and SIGHUP ignored.

    Ctrl-C reaches every process of the terminal's process group. The build's own process turns it into
    KeyboardInterrupt, leaves the pool (which terminates its workers) and tells the user how to resume;
    a worker that took it too would die printing a KeyboardInterrupt traceback. A disposition of "ignore"
    survives exec, so Python in the fork server installs no KeyboardInterrupt handler and every worker it
    forks inherits "ignore" from its first instant (see :func:`_workers_pass_ctrl_c_to_programs` for the
    programs a worker runs). Does nothing when the fork server is already running or off the main thread.

    multiprocess's resource tracker is started first, deaf to SIGHUP as well (it ignores SIGINT and SIGTERM
    itself): a hangup reaches the whole process group, and the build, stopping, still needs it to release
    the pool's semaphores (a tracker that died is relaunched with warnings and tracebacks).
    """
    from multiprocess import forkserver, resource_tracker

    if threading.current_thread() is not threading.main_thread():
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGHUP)}
    try:
        resource_tracker.ensure_running()
        # The fork server and the workers it forks are deaf to a hangup too: one sent to the whole group
        # would otherwise kill workers (and the fork server the pool refills them from) while the build,
        # turning it into Terminated, still unwinds the pool, a race that could leave the build waiting
        # on a pool it can no longer refill. The build ends them (SIGTERM) as it does after Ctrl-C.
        forkserver.ensure_running()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


# What every pool worker imports before its first task (about a second of a worker's start-up).
WORKER_MODULES = ("dill", "datatrove.executor.local", "mixer.build.local", "mixer.build.stages.tokenize")


def warm_up_workers(choice: ExecutorChoice, modules: list[str], tokenizer: Path | None = None) -> None:
    """Start the fork server that the local pool's workers are forked from now, importing
    :data:`WORKER_MODULES` and ``modules`` (the readers and steps of the pipelines to come) and loading
    ``tokenizer`` (:mod:`mixer.build.warm`), so that it does so while the build does other work (the
    tokenizer's identity check) and every worker starts with that done. Does nothing for other executors
    or a single worker (tasks run in this process), or when the fork server is already running."""
    if choice.type != "local" or choice.workers <= 1:
        return
    from multiprocess import forkserver

    from mixer.build.warm import ENV

    if tokenizer is not None:
        os.environ[ENV] = str(tokenizer)
    else:
        os.environ.pop(ENV, None)
    # a module that cannot be imported is skipped; the worker imports what it needs itself
    forkserver.set_forkserver_preload(["__main__", *WORKER_MODULES, *modules, "mixer.build.warm"])
    _start_workers_deaf_to_ctrl_c()


def _do_nothing(signum: int, frame: object) -> None:
    pass


def _workers_pass_ctrl_c_to_programs(data: object, rank: int = 0, world_size: int = 1) -> None:
    """The first step of a pipeline run in a pool worker: still deaf to Ctrl-C, but through a handler
    that does nothing rather than "ignore", because exec resets a handler (not "ignore") to the default:
    the programs the worker starts (git) then stop at Ctrl-C like every other process of the terminal.
    """
    signal.signal(signal.SIGINT, _do_nothing)
    signal.signal(signal.SIGHUP, _do_nothing)  # likewise: a hangup still ends the programs it starts
    return None


def run_pipeline(
    pipeline: list, choice: ExecutorChoice, logging_dir: Path, job_name: str, skip_completed: bool = False
) -> bool:
    """Run ``pipeline`` over ``choice.tasks`` tasks; return True when it finished here (False: submitted).

    ``skip_completed``: datatrove skips tasks it finished before (for pipelines whose unit of resume is the
    task; the tokenize pipeline resumes per input file, finer than that, and leaves it off).
    """
    from mixer.build.logs import route_task_logs, verbosity

    route_task_logs(verbosity())
    if choice.type == "local":
        from mixer.build.local import LocalExecutor

        if choice.workers > 1:  # a pool of worker processes; with one worker the tasks run in this process
            _start_workers_deaf_to_ctrl_c()
            pipeline = [_workers_pass_ctrl_c_to_programs, *pipeline]
        executor = LocalExecutor(
            pipeline,
            tasks=choice.tasks,
            workers=choice.workers,
            logging_dir=str(logging_dir),
            skip_completed=skip_completed,
            verbosity=verbosity(),
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
    from mixer.build.slurm import slurm_executor, submit

    slurm = choice.config.slurm
    if slurm is None:  # choose_executor refuses this; a choice made by hand may not have
        raise PlanError(
            "--executor slurm needs an executor.slurm block in the recipe (at least its partition)"
        )
    executor = slurm_executor(
        pipeline,
        slurm,
        tasks=choice.tasks,
        workers=choice.workers,
        job_name=job_name,
        logging_dir=str(logging_dir),
        skip_completed=skip_completed,
    )
    submit(executor, choice.work)
    return False
