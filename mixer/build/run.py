"""``mixer build``: tokenize every source once into parts, assemble shards, write the manifest.

The flow for each source: resolve its inputs (plan time, before any work) → run the datatrove pipeline
``reader → ShardPartWriter`` on the chosen executor → concatenate the committed parts in canonical file
order into ``sources/<source>/NNNNN.bin/.idx`` with JSON sidecars. A rerun resumes: files that a
committed part covers are not read again, and a source whose shards are complete and current is skipped.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixer import __version__
from mixer.build.plan import (
    FORMAT,
    MANIFEST,
    OWNER_FILE,
    PART_TOKENS,
    BuildPlan,
    Echo,
    SourcePlan,
    check_output_owner,
    dedup_key,
    default_output,
    files_text,
    input_states,
    inputs_size,
)
from mixer.errors import BuildIncomplete, JobsSubmitted, PlanError
from mixer.recipe import RecipeBase


@dataclass
class BuildOptions:
    executor: str | None = None
    tasks: int | None = None
    workers: int | None = None
    echo: Echo = print
    data_root: str | None = None  # megatron.args names the shards under this folder (default: the output)
    verbosity: str = "normal"  # quiet | normal | verbose: what reaches the console (mixer.build.logs)


def run_build(plan: BuildPlan, options: BuildOptions | None = None) -> dict[str, Any]:
    """Carry out the plan; return the manifest written to ``<output>/manifest.json``.

    Holds the output folder's lock throughout: a second build of the same folder is refused. SIGTERM and
    SIGHUP stop it as Ctrl-C does (:mod:`mixer.build.signals`); libraries' logs go to ``work/``.
    """
    from mixer.build.engine import choose_executor, warm_up_workers
    from mixer.build.lock import output_lock
    from mixer.build.logs import Verbosity, build_logging
    from mixer.build.plan import output_folder_error
    from mixer.build.signals import signals_end_like_ctrl_c

    try:
        plan.output.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        error = output_folder_error(plan.output, e)
        if error is None:
            raise
        raise error from None
    options = options or BuildOptions()
    with signals_end_like_ctrl_c(), output_lock(plan.output):
        # the pool's fork server imports and loads what the workers need while this process prepares
        choice = choose_executor(
            plan.recipe.executor, type=options.executor, tasks=options.tasks, workers=options.workers
        )
        warm_up_workers(choice, worker_modules(plan), known_tokenizer(plan))
        with build_logging(plan.output / "work", Verbosity(options.verbosity)):
            return _run_build(plan, options, choice)


def _run_build(plan: BuildPlan, options: BuildOptions, choice: Any) -> dict[str, Any]:
    from mixer.atomic import write_json_atomic
    from mixer.build.tokenizer_setup import prepare_tokenizer
    from mixer.shards.format import dtype_for_vocab

    echo = options.echo
    recipe = plan.recipe
    output = plan.output
    write_json_atomic(output / OWNER_FILE, {"recipe": {"name": recipe.name, "hash": recipe.content_hash()}})
    # from here until the new manifest is written the folder is not a finished build
    (output / MANIFEST).unlink(missing_ok=True)
    for w in plan.warnings:
        echo(f"warning: {w}")
    for note in plan.notes:
        echo(f"note: {note}")
    if choice.type == "slurm":
        from mixer.build.slurm import refuse_while_queued

        refuse_while_queued(output / "work", f"mixer build {plan.recipe_path}")
    from mixer.build.status import PLAN_FILE, plan_record

    record = plan_record(plan.sources)  # what `mixer status` reads
    write_json_atomic(output / "work" / PLAN_FILE, record, sort_keys=False)

    info = prepare_tokenizer(plan, echo)
    dtype = dtype_for_vocab(info.vocab_size)
    choice = dataclasses.replace(choice, work=output / "work")  # where submitted Slurm jobs are recorded
    echo(
        f"tokenizer: {info.vocab_size} ids, EOS {info.eos_token!r} = {info.eos_id}, backend {info.backend}; "
        f"shards in {dtype.name}; executor {choice.type} ({_tasks_text(plan, choice.tasks)}, {choice.workers} workers)"
    )

    for folder in (output / "sources", output / "work" / "sources", output / "validation"):
        for stale in folder.iterdir() if folder.is_dir() else []:
            name = stale.name.split(".")[0]
            if stale.is_dir() and not stale.name.startswith(".") and name not in recipe.sources:  # type: ignore[attr-defined]
                shutil.rmtree(stale)  # a source the recipe no longer has
    dedup = run_dedup(plan, choice, echo) if recipe.dedup is not None else None
    results: dict[str, dict[str, Any]] = {}
    pending = []
    for sp in plan.sources:
        result = build_source(plan, sp, info, dtype.name, choice, echo, dedup)
        if result is None:
            pending.append(sp.name)
        else:
            results[sp.name] = result
    if pending:
        raise JobsSubmitted(
            f"submitted {', '.join(pending)} to {choice.type}; when those jobs finish, run the same "
            "`mixer build` again to assemble the shards, blend the phases and write the manifest"
        )
    from mixer.mixing.mix import mix, text_bytes_counter

    counter = text_bytes_counter(Path(info.path), info.eos_id)
    mixed = mix(output, recipe, dtype.name, echo, counter, data_root=options.data_root)
    manifest = make_manifest(plan, info, dtype.name, results, mixed)
    write_json_atomic(output / MANIFEST, manifest, sort_keys=False)  # keeps source and phase order
    return manifest


def worker_modules(plan: BuildPlan) -> list[str]:
    """The modules the build's pipelines import in a worker: each source's reader, the quality and dedup
    steps when the recipe has them."""
    modules = {sp.config.reader_class.split(":")[0] for sp in plan.sources if sp.config.reader_class}
    if plan.recipe.dedup is not None or any(sp.config.filters for sp in plan.sources):
        modules.add("mixer.build.stages.quality")
    if plan.recipe.dedup is not None:
        modules.add("mixer.build.stages.dedup")
    return sorted(modules)


def known_tokenizer(plan: BuildPlan) -> Path | None:
    """The tokenizer file the build will use, when known before it is prepared: the recipe's path, or the
    copy a previous build left (the worker checks its bytes either way)."""
    if plan.recipe.tokenizer.path is not None:
        return Path(plan.recipe.tokenizer.path)
    previous = plan.output / "tokenizer" / "tokenizer.json"
    return previous if previous.is_file() else None


def run_mix(
    recipe: RecipeBase,
    recipe_path: str,
    output: Path | None = None,
    echo: Echo = print,
    data_root: str | None = None,
    verbosity: str = "normal",
) -> dict[str, Any]:
    """Recompute validation sets and phase blends over a finished build's shards (no tokenizing).

    ``data_root``: the folder ``megatron.args`` names the shards under (see :func:`mixer.mixing.mix.mix`).
    ``verbosity``: what reaches the console besides ``echo`` (:mod:`mixer.build.logs`).
    """
    from mixer.atomic import write_json_atomic
    from mixer.mixing.mix import mix, text_bytes_counter

    output = Path(output) if output is not None else default_output(recipe)
    check_output_owner(output, recipe.name)
    from mixer.build.plan import unused_sources, weight_notes

    for w in unused_sources(recipe):
        echo(f"warning: {w}")
    for note in weight_notes(recipe):
        echo(f"note: {note}")
    manifest_path = output / MANIFEST
    if not manifest_path.is_file():
        raise PlanError(
            f"{output} has no finished build (no manifest.json); run `mixer build {recipe_path}` first"
        )
    manifest = json.loads(manifest_path.read_text())
    built = manifest["recipe"]["resolved"]
    changed = [
        n
        for n, cfg in recipe.sources.items()  # type: ignore[attr-defined]
        if built["sources"].get(n) != cfg.model_dump(mode="json")
    ]
    changed += [n for n in built["sources"] if n not in recipe.sources]  # type: ignore[attr-defined]
    if changed or built["tokenizer"] != recipe.tokenizer.model_dump(mode="json"):
        what = f"sources {', '.join(sorted(changed))}" if changed else "the tokenizer"
        raise PlanError(
            f"{what} changed since {output} was built; run `mixer build {recipe_path}` instead of mix"
        )
    from mixer.build.lock import output_lock
    from mixer.build.logs import Verbosity, build_logging
    from mixer.build.signals import signals_end_like_ctrl_c

    with signals_end_like_ctrl_c(), output_lock(output), build_logging(output / "work", Verbosity(verbosity)):
        # the blends are rewritten one by one: until the new manifest is written this is no finished build
        # (a mix that is cut short leaves no manifest; the build then finds its shards current and blends)
        manifest_path.unlink()
        counter = text_bytes_counter(output / manifest["tokenizer"]["path"], manifest["eos_id"])
        mixed = mix(output, recipe, manifest["dtype"], echo, counter, data_root=data_root)
        manifest["recipe"].update(hash=recipe.content_hash(), resolved=recipe.model_dump(mode="json"))
        manifest["validation"] = mixed["validation"]
        manifest["phases"] = _phase_summaries(mixed["phases"])
        write_json_atomic(manifest_path, manifest, sort_keys=False)
    return manifest


def _tasks_text(plan: BuildPlan, tasks: int) -> str:
    """The tasks a source runs in: fewer than asked for a source with fewer files (one task per file)."""
    if all(len(sp.inputs.files) >= tasks for sp in plan.sources):
        return f"{tasks} tasks"
    return f"up to {tasks} tasks per source"


def _phase_summaries(blends: dict[str, dict]) -> dict[str, Any]:
    return {
        phase: {
            "fingerprint": b["fingerprint"],
            "seq_len": b["seq_len"],
            "samples": b["samples"],
            "tokens": b["tokens"],
            "sources": {
                n: {
                    k: s[k]
                    for k in (
                        "target_share",
                        "realised_share",
                        "samples",
                        "tokens",
                        "repetition",
                        "epochs_started",
                    )
                }
                for n, s in b["sources"].items()
            },
        }
        for phase, b in blends.items()
    }


def source_fingerprint(
    sp: SourcePlan,
    info: Any,
    dtype: str,
    keep_rejected: bool = False,
    seed: int | None = None,
    dedup: str | None = None,
) -> str:
    """The build key of a source's token parts (the name of its work folder): its recipe block, its inputs'
    paths, sizes and modification times, the tokenizer and dtype (and the recipe's seed, for a source whose
    documents depend on it). It decides what is current on this machine and never appears in the output,
    which names a source by the fingerprint of its content (:mod:`mixer.build.assemble`)."""
    import hashlib

    config = sp.config.model_dump(mode="json")
    if not config.get("filters"):
        config.pop("filters", None)  # sources without quality steps keep the fingerprints they always had
    data = {
        "config": config,
        "files": input_states(sp),
        "tokenizer": info.fingerprint,
        "eos_id": info.eos_id,
        "dtype": dtype,
        "format": FORMAT,
    }
    if keep_rejected:
        data["keep_rejected"] = True
    if seed is not None:
        data["seed"] = seed
    if dedup is not None:
        data["dedup"] = dedup  # every source's output depends on what the others hold
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class DedupResult:
    """Where the cross-source deduplication put its decisions, and the global file ids it used."""

    folder: Path
    key: str
    sources: list[str]
    offsets: list[int]
    summary: dict[str, Any]

    def removals(self, source: str) -> Any:
        from mixer.build.stages.dedup import DedupRemovals

        offset = self.offsets[self.sources.index(source)]
        return DedupRemovals(str(self.folder), offset, self.sources, self.offsets)

    def decisions(self, source: str) -> tuple[str, int]:
        """Where the signatures pass recorded the source's quality decisions, and its first file id."""
        return str(self.folder / "decisions"), self.offsets[self.sources.index(source)]


def run_dedup(plan: BuildPlan, choice: Any, echo: Echo) -> DedupResult:
    """Signatures of every source, candidate pairs, clusters (see :mod:`mixer.build.stages.dedup`); resumable."""
    from mixer.build.engine import run_pipeline
    from mixer.build.progress import signatures_progress
    from mixer.build.stages.dedup import (
        DedupSignature,
        FileIds,
        candidate_pairs_step,
        clear_signatures,
        cluster,
    )
    from mixer.build.stages.quality import QualityStage

    cfg = plan.recipe.dedup
    assert cfg is not None
    key = dedup_key(plan)
    root = plan.output / "work" / "dedup"
    for stale in root.glob("*") if root.is_dir() else []:
        if stale.name != key:
            shutil.rmtree(stale, ignore_errors=True)
    folder = root / key
    sources = [sp.name for sp in plan.sources]
    offsets = [0]
    for sp in plan.sources[:-1]:
        offsets.append(offsets[-1] + len(sp.inputs.files))
    priority = list(cfg.priority) + [n for n in sources if n not in cfg.priority]
    if (folder / "done").is_file():
        summary = json.loads((folder / "dedup.json").read_text())
        echo(f"dedup: up to date ({_removed_total(summary):,} duplicates)")
        if not plan.recipe.build.keep_work:
            clear_signatures(folder)  # signatures an older mixer kept
        return DedupResult(folder, key, sources, offsets, summary)

    started = time.monotonic()
    pending = []
    for sp, offset in zip(plan.sources, offsets, strict=True):
        reader = sp.config.reader(sp.name, sp.inputs.files)
        reader.max_document_chars = plan.recipe.build.max_document_chars
        if sp.config.uses_seed():
            reader.seed = plan.recipe.seed
        decisions = (str(folder / "decisions"), offset)  # replayed by the tokenize pass
        steps = (
            [QualityStage(sp.config.steps(), reader.ledger, record=decisions)] if sp.config.filters else []
        )
        tasks = len(sp.inputs.files)  # one task per input file: its signatures are named by its global id
        one_per_file = dataclasses.replace(choice, tasks=tasks, workers=min(choice.workers, tasks))
        echo(f"dedup: signatures of {sp.name} ({tasks} files)")
        sizes = [f.bytes for f in sp.inputs.files]
        logs = folder / "logs" / sp.name
        with signatures_progress(sp.name, sizes, logs, echo, show=choice.type != "slurm"):
            finished = run_pipeline(
                [reader, *steps, DedupSignature(str(folder), offset, cfg)],
                one_per_file,
                logs,
                f"mixer-dedup-{sp.name}",
                skip_completed=True,
            )
        if not finished:
            pending.append(sp.name)
    if pending:
        raise JobsSubmitted(
            f"submitted dedup signatures of {', '.join(pending)} to {choice.type}; when those jobs finish, "
            "run the same `mixer build` again"
        )
    if cfg.near is not None:
        shutil.rmtree(folder / "pairs", ignore_errors=True)
        bands = dataclasses.replace(choice, tasks=cfg.near.bands, workers=min(choice.workers, cfg.near.bands))
        if not run_pipeline(
            [candidate_pairs_step(folder, cfg)], bands, folder / "logs" / "pairs", "mixer-dedup-pairs"
        ):
            raise JobsSubmitted(
                f"submitted dedup candidate pairs to {choice.type}; when the job finishes, run the same "
                "`mixer build` again"
            )
    ids = FileIds(sources, offsets, [len(sp.inputs.files) for sp in plan.sources])
    summary = cluster(folder, ids, cfg, priority)
    if not plan.recipe.build.keep_work:
        clear_signatures(folder)  # only clustering reads them: they go before tokenizing adds its parts
    echo(
        f"dedup: {_removed_total(summary):,} of {summary['documents']:,} documents are duplicates "
        f"({time.monotonic() - started:.1f}s)"
    )
    return DedupResult(folder, key, sources, offsets, summary)


def _removed_total(summary: dict[str, Any]) -> int:
    return sum(n for counts in summary["removed"].values() for n in counts.values())


def build_source(
    plan: BuildPlan,
    sp: SourcePlan,
    info: Any,
    dtype: str,
    choice: Any,
    echo: Echo,
    dedup: DedupResult | None = None,
) -> dict | None:
    """Tokenize one source (resuming) and assemble its shards; None when its jobs were only submitted."""
    from mixer.build.assemble import assemble_source, clear_assembled_work, forget_lost_parts, read_assembled
    from mixer.build.engine import run_pipeline
    from mixer.build.progress import human_rate, tokenize_progress
    from mixer.build.stages.tokenize import ShardPartWriter, committed_parts
    from mixer.shards.tokenizer import Encoder

    keep_rejected = plan.recipe.build.keep_rejected and bool(sp.config.filters or dedup)
    seed = plan.recipe.seed if sp.config.uses_seed() else None
    fp = source_fingerprint(sp, info, dtype, keep_rejected, seed, dedup.key if dedup else None)
    src_work = plan.output / "work" / "sources" / sp.name
    work = src_work / fp
    for stale in src_work.glob("*") if src_work.is_dir() else []:
        if stale.name != fp:
            shutil.rmtree(stale, ignore_errors=True)
    shard_dir = plan.output / "sources" / sp.name
    assembled = read_assembled(shard_dir, work)
    if assembled is not None:
        echo(f"{sp.name}: up to date ({assembled['documents']:,} documents, {assembled['tokens']:,} tokens)")
        clear_assembled_work(work, plan.recipe.build.keep_work)  # parts an older mixer kept after assembling
        return assembled

    n_files = len(sp.inputs.files)
    forgotten = forget_lost_parts(work)
    if forgotten:
        echo(f"{sp.name}: {forgotten} files whose tokens were in a shard left unfinished are tokenized again")
    done = {f["index"] for p in committed_parts(work / "parts") for f in p["files"]}
    if len(done) < n_files:
        resumed = f", resuming ({len(done)} of {n_files} files already done)" if done else ""
        reader = sp.config.reader(sp.name, sp.inputs.files)
        reader.todo = [i for i in range(n_files) if i not in done]
        tasks = max(min(choice.tasks, len(reader.todo)), 1)  # a task without files would only cost a start
        echo(
            f"{sp.name}: tokenizing {files_text(n_files, sp.config)}, {inputs_size(sp.inputs)}, in "
            f"{tasks} task{'s' if tasks > 1 else ''}{resumed}"
        )
        reader.max_document_chars = plan.recipe.build.max_document_chars
        if seed is not None:
            reader.seed = seed
        steps = []
        if sp.config.filters or dedup is not None:
            from mixer.build.stages.quality import QualityStage

            rejected = str(work / "rejected") if keep_rejected else None
            removals = dedup.removals(sp.name) if dedup is not None else None
            replay = dedup.decisions(sp.name) if dedup is not None and sp.config.filters else None
            steps = [QualityStage(sp.config.steps(), reader.ledger, rejected, removals, replay=replay)]
        writer = ShardPartWriter(
            sp.name,
            str(work),
            Encoder(info),
            dtype,
            reader.ledger,
            part_tokens=PART_TOKENS,
            batch_bytes=plan.recipe.build.batch_bytes,
        )
        shutil.rmtree(work / "progress", ignore_errors=True)
        run_choice = dataclasses.replace(choice, tasks=tasks, workers=min(choice.workers, tasks))
        started = time.monotonic()
        sizes = [sp.inputs.files[i].bytes for i in reader.todo]
        with tokenize_progress(sp.name, sizes, work / "progress", echo, show=choice.type != "slurm"):
            finished = run_pipeline(
                [reader, *steps, writer], run_choice, work / "datatrove", f"mixer-{sp.name}"
            )
        if not finished:
            return None
        elapsed = time.monotonic() - started
        done = {f["index"] for p in committed_parts(work / "parts") for f in p["files"]}
        if len(done) < n_files:
            raise BuildIncomplete(
                f"source '{sp.name}': {n_files - len(done)} of {n_files} files were not processed "
                f"(a task failed; see {work / 'datatrove' / 'logs'}); rerun the build to resume"
            )
        progress = _read_progress(work / "progress")
        rate = progress["tokens"] / elapsed if elapsed > 0 else 0
        echo(
            f"{sp.name}: tokenized {progress['tokens']:,} tokens in {elapsed:.1f}s ({human_rate(rate)} tokens/s)"
        )
    # rejected documents first: assembled.json, written last by assemble_source, marks the source complete
    publish_rejected(work / "rejected" if keep_rejected else None, plan.output / "rejected" / sp.name)
    summary = assemble_source(
        sp.name, work, sp.inputs.files, shard_dir, dtype, plan.recipe.build.max_tokens_per_shard
    )
    clear_assembled_work(work, plan.recipe.build.keep_work)
    return summary


def publish_rejected(kept: Path | None, folder: Path) -> None:
    """Move a source's rejected documents to ``<output>/rejected/<source>/`` (or remove stale ones)."""
    from mixer.atomic import replace_dir

    if kept is None or not kept.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
        return
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    # hard links: the files are written once and never changed, and the work copy goes when assembled
    shutil.copytree(kept, tmp, ignore=shutil.ignore_patterns(".*"), copy_function=_link_or_copy)
    folder.parent.mkdir(parents=True, exist_ok=True)
    replace_dir(tmp, folder)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(src, dst)


def _read_progress(folder: Path) -> dict[str, int]:
    total = {"documents": 0, "tokens": 0, "files": 0}
    for path in folder.glob("*.json") if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced right now
        for k in total:
            total[k] += int(data.get(k, 0))
    return total


def make_manifest(
    plan: BuildPlan, info: Any, dtype: str, results: dict[str, dict], mixed: dict[str, Any]
) -> dict[str, Any]:
    recipe = plan.recipe
    sources = {}
    for sp in plan.sources:
        r = results[sp.name]
        sources[sp.name] = {
            "type": sp.config.type,
            "fingerprint": r["fingerprint"],
            "files": len(sp.inputs.files),
            # null when no input's size is known (git repositories, remote files): not "0 B"
            "input_bytes": sp.inputs.total_bytes if any(f.bytes >= 0 for f in sp.inputs.files) else None,
            "records": r["records"],
            "skipped": r["skipped"],
            "skip_examples": r["skip_examples"],
            "dropped": r.get("dropped", {}),
            "redactions": r.get("redactions", {}),
            "documents": r["documents"],
            "tokens": r["tokens"],
            "shards": r["shards"],
        }
    return {
        "format": FORMAT,
        "created_by": f"mixer {__version__}",
        "recipe": {
            "name": recipe.name,
            "hash": recipe.content_hash(),
            "path": plan.recipe_path,
            "resolved": recipe.model_dump(mode="json"),
        },
        "tokenizer": {
            "path": "tokenizer/tokenizer.json",
            "fingerprint": info.fingerprint,
            "vocab_size": info.vocab_size,
            "eos_id": info.eos_id,
            "eos_token": info.eos_token,
            "backend": info.backend,
        },
        "dtype": dtype,
        "eos_id": info.eos_id,
        "sources": sources,
        "validation": mixed["validation"],
        "phases": _phase_summaries(mixed["phases"]),
        "totals": {
            "documents": sum(s["documents"] for s in sources.values()),
            "tokens": sum(s["tokens"] for s in sources.values()),
            "skipped": sum(sum(s["skipped"].values()) for s in sources.values()),
            "dropped": sum(n for s in sources.values() for r in s["dropped"].values() for n in r.values()),
            "redactions": sum(sum(s["redactions"].values()) for s in sources.values()),
        },
    }
