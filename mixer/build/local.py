"""datatrove's local executor, with each task's logs routed as the build's verbosity says.

The pool's workers are fresh interpreters (datatrove starts them from a fork server): the setting of the
build process does not reach them, so the executor carries it and applies it in the worker before a task.
"""

from __future__ import annotations

from typing import Any

from datatrove.executor import LocalPipelineExecutor

from mixer.build.logs import Verbosity, route_task_logs


class LocalExecutor(LocalPipelineExecutor):
    def __init__(self, *args: Any, verbosity: Verbosity = Verbosity.NORMAL, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.verbosity = verbosity

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1) -> Any:
        route_task_logs(self.verbosity)
        return super()._run_for_rank(rank, local_rank, node_rank)
