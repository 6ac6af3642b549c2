"""Slurm around datatrove's ``SlurmPipelineExecutor``: submitting, remembering what was submitted, the queue.

A build on Slurm submits each pipeline as a job array and stops; the user runs the same command again when
the jobs have finished. mixer records every job id it submits in ``<output>/work/slurm.json``, so that:

- a rerun while any of them is still in the queue (``squeue``) says so and submits nothing (submitting again
  would run every task twice);
- ``mixer status OUTPUT`` shows their state next to each source's progress;
- ``mixer build --dry-run`` prints the job scripts that would be submitted (:func:`job_scripts`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from mixer.errors import JobsSubmitted, PlanError

JOBS_FILE = "slurm.json"


def require_sbatch() -> None:
    if shutil.which("sbatch") is None:
        raise PlanError(
            "executor slurm: the `sbatch` command is not on PATH; run mixer build on a machine that submits "
            "Slurm jobs (a login node), or choose another executor (--executor local)"
        )


class _JobIds:
    """datatrove's ``job_id_retriever``: takes the id from sbatch's answer and remembers every one."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def __call__(self, sbatch_output: str) -> str:
        job_id = sbatch_output.split()[-1]
        self.ids.append(job_id)
        return job_id


def slurm_executor(pipeline: list, settings: Any, **kwargs: Any) -> Any:
    """datatrove's Slurm executor for ``settings`` (the recipe's ``executor.slurm``); no qos unless set."""
    from datatrove.executor import SlurmPipelineExecutor

    return SlurmPipelineExecutor(
        pipeline,
        time=settings.time,
        partition=settings.partition,
        cpus_per_task=settings.cpus_per_task,
        mem_per_cpu_gb=settings.mem_per_cpu_gb,
        qos=settings.qos,  # None: no --qos line, the cluster's default applies
        sbatch_args=dict(settings.sbatch_args),
        env_command=settings.env_command,
        **kwargs,
    )


def submit(executor: Any, work: Path | None) -> list[str]:
    """Submit ``executor``'s job array (and datatrove's stats job); record the ids under ``work``."""
    require_sbatch()
    ids = _JobIds()
    executor.job_id_retriever = ids
    try:
        executor.run()
    except subprocess.CalledProcessError as e:
        raise PlanError(
            f"sbatch refused job {executor.job_name} (exit code {e.returncode}; its message is above); check "
            "executor.slurm in the recipe (partition, time, qos, sbatch_args)"
        ) from None
    finally:
        if work is not None and ids.ids:
            record_jobs(work, executor.job_name, ids.ids)
    return ids.ids


def record_jobs(work: Path, name: str, ids: list[str]) -> None:
    from mixer.atomic import write_json_atomic

    jobs = read_jobs(work)
    jobs += [{"id": job_id, "name": name, "submitted": int(time.time())} for job_id in ids]
    write_json_atomic(work / JOBS_FILE, {"jobs": jobs})


def read_jobs(work: Path) -> list[dict[str, Any]]:
    path = work / JOBS_FILE
    if not path.is_file():
        return []
    try:
        return list(json.loads(path.read_text())["jobs"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def queued_jobs(work: Path, forget: bool = True) -> list[dict[str, Any]]:
    """The recorded jobs still in Slurm's queue (pending, running, ...), each with its ``state``.

    With ``forget``, jobs that left the queue are dropped from the record. Raises PlanError when jobs are
    recorded but ``squeue`` cannot say where they are."""
    from mixer.atomic import write_json_atomic

    jobs = read_jobs(work)
    if not jobs:
        return []
    states = _queue_states([j["id"] for j in jobs])
    queued = [dict(j, state=states[j["id"]]) for j in jobs if j["id"] in states]
    if forget and len(queued) < len(jobs):
        write_json_atomic(work / JOBS_FILE, {"jobs": [j for j in jobs if j["id"] in states]})
    return queued


def refuse_while_queued(work: Path, command: str) -> None:
    """Stop (having submitted nothing) while jobs this build submitted are still in the queue."""
    queued = queued_jobs(work)
    if queued:
        listed = ", ".join(f"{j['id']} {j['state']} ({j['name']})" for j in queued)
        raise JobsSubmitted(
            f"{len(queued)} Slurm job{'s' if len(queued) > 1 else ''} of this build {'are' if len(queued) > 1 else 'is'} "
            f"still in the queue: {listed}; nothing was submitted. Follow them with `mixer status "
            f"{work.parent}`; when they have finished, run `{command}` again"
        )


def _queue_states(ids: list[str]) -> dict[str, str]:
    """Job id -> state, for the ids squeue still lists (an array's tasks: the most active state)."""
    if shutil.which("squeue") is None:
        raise PlanError(
            f"this build submitted Slurm jobs ({', '.join(ids)}) but `squeue` is not on PATH to see whether "
            "they are still queued; run mixer on the machine that submitted them (a login node)"
        )
    cmd = ["squeue", "--noheader", "--format=%i %T", f"--jobs={','.join(ids)}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        if "invalid job id" in done.stderr.lower():  # every one of them has left the queue
            return {}
        raise PlanError(f"`{' '.join(cmd)}` failed: {done.stderr.strip() or done.returncode}")
    rank = {"RUNNING": 0, "COMPLETING": 1, "CONFIGURING": 2, "PENDING": 3}
    states: dict[str, str] = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        job_id, state = parts[0].split("_")[0], parts[1]
        if job_id in ids and rank.get(state, 9) < rank.get(states.get(job_id, ""), 10):
            states[job_id] = state
    return states


def job_scripts(jobs: list[tuple[str, int, str]], settings: Any, workers: int) -> str:
    """The sbatch scripts of ``jobs`` (name, tasks, logging folder) as datatrove would submit them."""
    out = []
    for name, tasks, logging_dir in jobs:
        executor = slurm_executor(
            [], settings, tasks=tasks, workers=min(workers, tasks), job_name=name, logging_dir=logging_dir
        )
        shown = executor.slurm_logs_folder
        with tempfile.TemporaryDirectory() as tmp:  # datatrove creates the Slurm log folder here
            executor.slurm_logs_folder = tmp
            args = executor.get_sbatch_args(tasks)
        for key in ("output", "error"):
            args[key] = os.path.join(shown, "%A_%a.out")
        pik = os.path.join(logging_dir, "executor.pik")
        script = executor.get_launch_file_contents(args, f"srun -l -n 1 launch_pickled_pipeline {pik}")
        out.append(f"# job {name}: {tasks} task{'s' if tasks != 1 else ''}\n{script.rstrip()}\n")
    return "\n".join(out)


def dry_run_scripts(plan: Any, choice: Any) -> str:
    """What ``mixer build --dry-run`` adds for the Slurm executor: every job script the build would submit,
    in order (dedup signatures per source and candidate pairs, then each source's tokenize job).

    A folder named by a key the build computes from the tokenizer (which does not exist before a build) is
    shown as ``<key>``."""
    from mixer.build.plan import dedup_key

    settings = choice.config.slurm
    work = plan.output / "work"
    jobs: list[tuple[str, int, str]] = []
    if plan.recipe.dedup is not None:
        folder = work / "dedup" / dedup_key(plan)
        jobs += [
            (f"mixer-dedup-{sp.name}", len(sp.inputs.files), str(folder / "logs" / sp.name))
            for sp in plan.sources
        ]
        if plan.recipe.dedup.near is not None:
            jobs.append(("mixer-dedup-pairs", plan.recipe.dedup.near.bands, str(folder / "logs" / "pairs")))
    for sp in plan.sources:
        tasks = max(min(choice.tasks, len(sp.inputs.files)), 1)
        jobs.append((f"mixer-{sp.name}", tasks, str(work / "sources" / sp.name / "<key>" / "datatrove")))
    header = (
        f"# Slurm: the {len(jobs)} job arrays the build submits, stage by stage (it stops after submitting a "
        "stage and goes on when run again); datatrove adds a job after each that merges its stats"
    )
    return header + "\n\n" + job_scripts(jobs, settings, choice.workers)
