"""``mixer status OUTPUT``: how far a build is, per source, from what its work folder holds.

It reads only files: the plan the build recorded (``work/plan.json``: each source's input files), the dedup
stage's completion markers, each source's committed parts (``work/sources/<source>/<key>/parts/``), the
assembled shards, the manifest, and the Slurm jobs the build submitted (asking ``squeue`` where they are).
It takes no lock, so it can watch a build that is running, here or on a cluster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mixer.errors import MixerError, PlanError

PLAN_FILE = "plan.json"


def plan_record(sources: list[Any]) -> dict[str, Any]:
    """What ``work/plan.json`` holds: each source's number of input files and their bytes, in plan order."""
    return {
        "sources": {
            sp.name: {"files": len(sp.inputs.files), "bytes": sp.inputs.total_bytes} for sp in sources
        }
    }


def describe_status(output: Path) -> str:
    output = Path(output)
    work = output / "work"
    owner = _read(work / "recipe.json")
    manifest = _read(output / "manifest.json")
    if owner is None and manifest is None:
        raise PlanError(f"{output} holds no mixer build (no work/recipe.json, no manifest.json)")
    name = (manifest or owner or {}).get("recipe", {}).get("name", "?")
    if manifest is not None:
        lines = [f"{output}: recipe '{name}', finished (manifest.json)"]
        for source, s in manifest.get("sources", {}).items():
            lines.append(f"  {source:<16} done: {s['documents']:,} documents, {s['tokens']:,} tokens")
        for phase, p in manifest.get("phases", {}).items():
            lines.append(f"  phase {phase:<10} {p['samples']:,} samples of {p['seq_len'] + 1} tokens")
        return "\n".join(lines)

    lines = [f"{output}: recipe '{name}', not finished (no manifest.json yet)"]
    planned = (_read(work / PLAN_FILE) or {}).get("sources", {})
    names = list(planned) or sorted(p.name for p in (work / "sources").glob("*") if p.is_dir())
    dedup = _dedup_line(work, planned)
    if dedup:
        lines.append(dedup)
    for source in names:
        lines.append(f"  {source:<16} {_source_line(output, source, planned.get(source, {}))}")
    lines += _jobs_lines(work)
    return "\n".join(lines)


def _source_line(output: Path, source: str, planned: dict[str, Any]) -> str:
    assembled = _read(output / "sources" / source / "assembled.json")
    if assembled is not None:
        return f"done: {assembled['documents']:,} documents, {assembled['tokens']:,} tokens"
    folders = sorted(
        (p for p in (output / "work" / "sources" / source).glob("*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
    )
    files = documents = tokens = 0
    if folders:
        for sidecar in sorted((folders[-1] / "parts").glob("p*.json")):
            part = _read(sidecar) or {}
            files += len(part.get("files", []))
            documents += int(part.get("documents", 0))
            tokens += int(part.get("tokens", 0))
    total = planned.get("files")
    if not folders and not files:
        return "not started" + (f" ({total:,} files)" if total else "")
    share = f" ({files / total:.0%})" if total else ""
    of = f" of {total:,}" if total else ""
    return f"{files:,}{of} files tokenized{share}, {documents:,} documents, {tokens:,} tokens"


def _dedup_line(work: Path, planned: dict[str, Any]) -> str | None:
    folders = [p for p in (work / "dedup").glob("*") if p.is_dir()]
    if not folders:
        return None
    folder = max(folders, key=lambda p: p.stat().st_mtime)
    if (folder / "done").is_file():
        return f"  {'dedup':<16} done"
    done = sum(
        1 for p in (folder / "logs").glob("*/completions/*") if p.parent.parent.name in planned or not planned
    )
    total = sum(int(s.get("files", 0)) for s in planned.values())
    of = f" of {total:,}" if total else ""
    return f"  {'dedup':<16} signatures of {done:,}{of} files"


def _jobs_lines(work: Path) -> list[str]:
    from mixer.build.slurm import queued_jobs, read_jobs

    if not read_jobs(work):
        return []
    try:
        queued = queued_jobs(work, forget=False)  # status writes nothing
    except MixerError as e:
        return [f"slurm: {e}"]
    if not queued:
        return [
            "slurm: no job this build submitted is in the queue any more: run the same build again to go on"
        ]
    return ["slurm jobs in the queue:"] + [f"  {j['id']} {j['state']} ({j['name']})" for j in queued]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
