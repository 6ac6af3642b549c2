"""The ``mixer`` command line: each command translates options into a library call.

Library errors (:class:`~mixer.errors.MixerError`) become a message and exit code 2 here, at the edge.
"""

from __future__ import annotations

import errno
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from mixer import __version__
from mixer.errors import JobsSubmitted, MixerError


def user_errors(fn):
    """Turn MixerError into a clean message with exit code 2 (a usage problem, fix and rerun)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except JobsSubmitted as e:
            click.echo(str(e))
            sys.exit(0)
        except MixerError as e:
            click.echo(f"Error: {e}", err=True)
            sys.exit(2)
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                raise
            click.echo(
                f"Error: cannot write: {e.strerror} (the disk or a quota is full, or a file-size limit was hit). "
                "Free space or choose another --output; finished work is kept: run the same command again "
                "to resume.",
                err=True,
            )
            sys.exit(1)
        except KeyboardInterrupt as e:
            signum = getattr(e, "signum", None)  # SIGTERM or SIGHUP (mixer.build.signals), else Ctrl-C
            if signum is None:
                click.echo(
                    "\nInterrupted. Finished work is kept: run the same command again to resume.", err=True
                )
                sys.exit(130)
            click.echo(
                f"\nStopped by {e}. Finished work is kept: run the same command again to resume.", err=True
            )
            sys.exit(128 + signum)

    return wrapper


def verbosity_options(fn):
    """``--quiet`` / ``--verbose``: what a build prints besides its result (see mixer.build.logs)."""
    fn = click.option(
        "--verbose",
        "-v",
        is_flag=True,
        help="Also show the libraries' logs (datatrove's task logs) on the console.",
    )(fn)
    return click.option(
        "--quiet",
        "-q",
        is_flag=True,
        help="Only warnings, errors and the result: no progress. Logs are in OUTPUT/work either way.",
    )(fn)


def console(quiet: bool, verbose: bool) -> tuple[str, Callable[[str], None]]:
    """The verbosity and the echo function for ``--quiet`` / ``--verbose``."""
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose exclude each other; give one")
    if not quiet:
        return ("verbose" if verbose else "normal"), click.echo

    def warnings_only(line: str) -> None:
        if line.startswith("warning:"):
            click.echo(line)

    return "quiet", warnings_only


# shared by the commands that act on a recipe's output folder
recipe_argument = click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
output_option = click.option(
    "--output", "-o", type=click.Path(file_okay=False, path_type=Path), help="Output folder [shards/<name>]."
)
data_root_option = click.option(
    "--data-root",
    metavar="DIR",
    help="Name the shards in megatron.args under DIR instead of the output folder's absolute path "
    "(`.`: relative to the output folder; a copied build's path).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mixer")
def main() -> None:
    """Build LLM pretraining data mixtures from a recipe, and inspect what was built.

    \b
    Example:
      mixer build recipes/demo.yaml
    """


@main.command()
@recipe_argument
@output_option
@click.option("--dry-run", is_flag=True, help="Print the resolved recipe and the plan; write nothing.")
@click.option("--executor", type=click.Choice(["local", "ray", "slurm"]), help="Override executor.type.")
@click.option("--tasks", type=click.IntRange(min=1), help="Tasks per source (overrides executor.tasks).")
@click.option("--workers", type=click.IntRange(min=1), help="Tasks run at once (overrides executor.workers).")
@data_root_option
@verbosity_options
@user_errors
def build(
    recipe: Path,
    output: Path | None,
    dry_run: bool,
    executor: str | None,
    tasks: int | None,
    workers: int | None,
    data_root: str | None,
    quiet: bool,
    verbose: bool,
):
    """Filter, tokenize and shard every source of RECIPE.

    A rerun resumes an interrupted build and skips sources that are up to date. Progress shows as a bar on
    a terminal, as a line every 10 s elsewhere; the libraries' logs go to OUTPUT/work (build.log and each
    pipeline's logs/). With the Slurm executor, --dry-run also prints the job scripts.

    \b
    Example:
      mixer build recipes/demo.yaml --workers 2
      mixer build my.yaml --dry-run
      mixer build my.yaml --quiet
    """
    verbosity, echo = console(quiet, verbose)
    from mixer.build import BuildOptions, describe_plan, plan_build, run_build
    from mixer.recipe import load_recipe
    from mixer.report.console import phase_table, summary_table

    loaded = load_recipe(recipe)
    plan = plan_build(loaded, str(recipe), output)
    if dry_run:
        from mixer.build.plan import first_record_problems
        from mixer.errors import PlanError

        click.echo(describe_plan(plan))
        problems = first_record_problems(plan)  # reads one record of each source
        if problems:
            raise PlanError("; ".join(problems))
        if (executor or loaded.executor.type) == "slurm":
            from mixer.build.engine import choose_executor
            from mixer.build.slurm import dry_run_scripts

            choice = choose_executor(loaded.executor, type=executor, tasks=tasks, workers=workers)
            click.echo("")
            click.echo(dry_run_scripts(plan, choice))
        return
    options = BuildOptions(
        executor=executor, tasks=tasks, workers=workers, echo=echo, data_root=data_root, verbosity=verbosity
    )
    manifest = run_build(plan, options)
    click.echo("")
    click.echo(summary_table(manifest))
    if manifest["phases"]:
        click.echo("")
        click.echo(phase_table(manifest))
    click.echo(f"\nwrote {plan.output / 'manifest.json'}")


@main.command()
@recipe_argument
@output_option
@data_root_option
@verbosity_options
@user_errors
def mix(recipe: Path, output: Path | None, data_root: str | None, quiet: bool, verbose: bool):
    """Re-blend RECIPE's phases over its already built source shards (no re-tokenizing).

    Use it after changing phases (weights, tokens, seq_len, max_repetition), the seed or the holdout.

    \b
    Example:
      mixer mix recipes/demo.yaml
      mixer mix recipes/demo.yaml -o /scratch/demo --data-root /scratch/demo   # a copied build
    """
    from mixer.build import run_mix
    from mixer.recipe import load_recipe
    from mixer.report.console import phase_table

    verbosity, echo = console(quiet, verbose)
    loaded = load_recipe(recipe)
    manifest = run_mix(loaded, str(recipe), output, echo=echo, data_root=data_root, verbosity=verbosity)
    click.echo("")
    click.echo(phase_table(manifest))


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@user_errors
def status(folder: Path):
    """Show how far the build in FOLDER is: per source, files tokenized of its inputs, documents, tokens;
    the dedup stage; the Slurm jobs the build submitted that are still queued or running.

    It only reads, so it can watch a build that is running (here or on a cluster).

    \b
    Example:
      mixer status shards/demo
    """
    from mixer.build.status import describe_status

    click.echo(describe_status(folder))


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--source", "-s", help="Only this source.")
@click.option(
    "--n", "count", type=click.IntRange(min=0), default=2, show_default=True, help="Documents to decode."
)
@click.option(
    "--doc", "doc", type=click.IntRange(min=0), help="Decode this document (index within the source)."
)
@click.option(
    "--max-chars", type=click.IntRange(min=1), default=600, show_default=True, help="Cut decoded text."
)
@click.option("--rejected", is_flag=True, help="Show documents the quality steps dropped, and why.")
@user_errors
def inspect(folder: Path, source: str | None, count: int, doc: int | None, max_chars: int, rejected: bool):
    """Show what a build produced: per-source documents and tokens, and decoded documents.

    \b
    Example:
      mixer inspect shards/demo
      mixer inspect shards/demo --source code --doc 12
      mixer inspect shards/demo --rejected --n 5
    """
    from mixer.shards.inspect import inspect_output, inspect_rejected

    if rejected:
        click.echo(inspect_rejected(folder, source=source, count=count, max_chars=max_chars))
    else:
        click.echo(inspect_output(folder, source=source, count=count, doc=doc, max_chars=max_chars))


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out", "-o", type=click.Path(dir_okay=False, path_type=Path), help="HTML file [FOLDER/report.html]."
)
@user_errors
def report(folder: Path, out: Path | None):
    """Write a self-contained HTML page about the build in FOLDER and print its summary tables.

    The page (no scripts, no external files) shows target vs realised shares per phase, kept, skipped and
    dropped documents per source (drops per step and reason), and document-length histograms.

    \b
    Example:
      mixer report shards/demo
      mixer report shards/demo --out /tmp/demo-report.html
    """
    from mixer.report.console import phase_table, summary_table
    from mixer.report.html import write_report
    from mixer.shards.manifest import read_manifest

    manifest = read_manifest(folder)
    path = write_report(folder, out)
    click.echo(summary_table(manifest))
    if manifest.get("phases"):
        click.echo("")
        click.echo(phase_table(manifest))
    click.echo(f"\nwrote {path}")


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
def schema(output: Path | None):
    """Print the JSON Schema of recipes (for editor validation and completion).

    \b
    Example:
      mixer schema -o recipe.schema.json
    """
    from mixer.recipe import recipe_json_schema

    text = json.dumps(recipe_json_schema(), indent=2)
    if output:
        output.write_text(text + "\n")
        click.echo(f"wrote {output}")
    else:
        click.echo(text)


@main.group()
def tokenizer() -> None:
    """Tokenizer tools."""


@tokenizer.command("train")
@recipe_argument
@click.option("--vocab-size", type=click.IntRange(min=260), help="Override tokenizer.train.vocab_size.")
@click.option("--sample-bytes", type=click.IntRange(min=1), help="Override tokenizer.train.sample_bytes.")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="tokenizer.json to write.",
)
@user_errors
def tokenizer_train(recipe: Path, vocab_size: int | None, sample_bytes: int | None, out: Path):
    """Train a byte-level BPE on a sample of RECIPE's sources, as `tokenizer.train` would.

    \b
    Example:
      mixer tokenizer train recipes/demo.yaml --vocab-size 32000 -o tok/tokenizer.json
    """
    from mixer.build.tokenizer_setup import train_on_sources
    from mixer.recipe import TokenizerTraining, load_recipe

    loaded = load_recipe(recipe)
    base = loaded.tokenizer.train
    if base is None and vocab_size is None:
        raise MixerError("the recipe has no tokenizer.train block: pass --vocab-size")
    overrides = {"vocab_size": vocab_size, "sample_bytes": sample_bytes}
    settings = (base.model_dump() if base else {}) | {k: v for k, v in overrides.items() if v is not None}
    train = TokenizerTraining.model_validate(settings)
    sources = [(name, cfg, cfg.resolve(name).files) for name, cfg in loaded.sources.items()]
    out.parent.mkdir(parents=True, exist_ok=True)
    train_on_sources(sources, train, out)
    click.echo(f"wrote {out} ({train.vocab_size} ids, EOS {train.special_tokens[0]!r})")


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--quick", is_flag=True, help="Index structure only: no sha256 and no pass over the token data."
)
@user_errors
def verify(folder: Path, quick: bool):
    """Check a build output against its sidecars and manifest; exit 1 naming the first broken file.

    Checks every shard (sha256, sizes, index pointers, token ids within the vocabulary), the validation
    sets, the manifest's totals and every phase blend (indices in range, samples per source as recorded).

    \b
    Example:
      mixer verify shards/demo
    """
    from mixer.shards.verify import VerifyError, verify_output

    try:
        counts = verify_output(folder, quick=quick, echo=click.echo)
    except VerifyError as e:
        click.echo(f"BROKEN {e}", err=True)
        sys.exit(1)
    click.echo(
        f"verified {folder}: {counts['shards']} shards ({counts['tokens']:,} tokens), "
        f"{counts['validation sets']} validation sets, {counts['phases']} phases"
    )


@main.command()
@recipe_argument
@click.option("--phase", "-p", required=True, help="The recipe phase to train on (e.g. pretrain, cooldown).")
@click.option("--model", help="Model preset (overrides train.model): tiny, 125m, 470m, 2.8b.")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Run folder [runs/<recipe name>]."
)
@click.option(
    "--init-from",
    type=click.Path(file_okay=False, path_type=Path),
    help="Start from this checkpoint's weights and optimizer (a cooldown: runs/<name>/pretrain/final).",
)
@click.option(
    "--max-steps",
    type=click.IntRange(min=1),
    help="Train only the first N steps (overrides train.max_steps).",
)
@click.option(
    "--train-config", type=click.Path(dir_okay=False, path_type=Path), help="YAML file of train settings."
)
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a train setting, e.g. --set lr=1e-3."
)
@click.option(
    "--shards", type=click.Path(file_okay=False, path_type=Path), help="Build output folder [shards/<name>]."
)
@click.option("--device", help="torch device (default: this rank's GPU, else cpu).")
@user_errors
def train(
    recipe: Path,
    phase: str,
    model: str | None,
    out: Path | None,
    init_from: Path | None,
    max_steps: int | None,
    train_config: Path | None,
    sets: tuple[str, ...],
    shards: Path | None,
    device: str | None,
):
    """Train a GPT on RECIPE's phase blend (needs the `train` extra). Under torchrun it runs distributed.

    Running the same command again resumes from the newest checkpoint in <out>/<phase>/.

    \b
    Example:
      mixer train recipes/demo.yaml --phase pretrain --model tiny
      mixer train recipes/demo.yaml --phase cooldown --init-from runs/demo/pretrain/final
      torchrun --nproc-per-node 8 $(which mixer) train recipe.yaml --phase pretrain --model 470m
    """
    from mixer.recipe import load_recipe
    from mixer.trainer.settings import parse_overrides, resolve_settings
    from mixer.trainer.train import TrainRequest
    from mixer.trainer.train import train as run_training

    loaded = load_recipe(recipe)
    overrides = parse_overrides(sets)
    if model is not None:
        overrides["model"] = model
    if max_steps is not None:
        overrides["max_steps"] = max_steps
    settings = resolve_settings(
        loaded, phase, train_config=train_config, overrides=overrides, recipe_path=str(recipe)
    )
    request = TrainRequest(
        output=shards or Path("shards") / loaded.name,
        phase=phase,
        out=out or Path("runs") / loaded.name,
        settings=settings,
        recipe_name=loaded.name,
        recipe_seed=loaded.seed,
        init_from=init_from,
        device=device,
    )
    run_training(request, echo=click.echo)


@main.command("export-hf")
@click.argument("checkpoint", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--dtype", type=click.Choice(["float32", "bfloat16", "float16"]), default="float32", show_default=True
)
@user_errors
def export_hf(checkpoint: Path, out: Path, dtype: str):
    """Write CHECKPOINT (e.g. runs/demo/cooldown/final) as a Hugging Face Llama model in OUT.

    It loads with transformers' AutoModelForCausalLM and evaluates with lm-evaluation-harness.

    \b
    Example:
      mixer export-hf runs/demo/cooldown/final hf/demo
      lm_eval --model hf --model_args pretrained=hf/demo --tasks hellaswag
    """
    from mixer.trainer.checkpoint import load_weights  # without torch: an error naming what to install
    from mixer.trainer.export import TORCH_DTYPES
    from mixer.trainer.export import export_hf as write_hf

    try:
        config, state_dict, _ = load_weights(checkpoint)
    except FileNotFoundError as e:
        raise MixerError(str(e)) from None
    tokenizer_dir = checkpoint.parent / "tokenizer"
    written = write_hf(
        config,
        state_dict,
        out,
        tokenizer_dir=tokenizer_dir if tokenizer_dir.is_dir() else None,
        dtype=TORCH_DTYPES[dtype],
    )
    click.echo(f"wrote {written} (Llama architecture, {dtype})")


@main.command()
@click.argument("study_file", metavar="STUDY", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print what is built, blended, trained and evaluated, and what is done.")
@click.option("--runs", type=click.Path(file_okay=False, path_type=Path), help="Runs folder [runs].")
@click.option("--no-eval", is_flag=True, help="Build, blend and train only.")
@user_errors
def study(study_file: Path, dry_run: bool, runs: Path | None, no_eval: bool):
    """Run a mixture study: build STUDY's corpus once, blend each mixture beside it, train each mixture's
    phases in order (each from the previous phase's final checkpoint), evaluate, and compare.

    Running it again skips what is done and resumes what was interrupted. The comparison is written to
    runs/<study>/study.json and runs/<study>/report.html.

    \b
    Example:
      mixer study recipes/paper/sample-study.yaml --dry-run
      mixer study recipes/paper/sample-study.yaml
    """
    from mixer.study.run import describe, plan_study, run_study
    from mixer.study.spec import load_study

    loaded = load_study(study_file)
    if dry_run:
        click.echo(describe(loaded, plan_study(loaded, runs)))
        return
    run_study(loaded, runs=runs, echo=click.echo, evaluate=not no_eval)


@main.command("eval")
@click.argument("checkpoint", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--no-validation", is_flag=True, help="Leave out the per-source validation bits per byte.")
@click.option("--humaneval", "problems", type=click.IntRange(1, 164), help="HumanEval on the first N problems.")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True, help="Completions per problem (n).")
@click.option("--k", "ks", multiple=True, type=click.IntRange(min=1), help="pass@k to report (repeatable) [1].")
@click.option("--tasks", help="lm-evaluation-harness tasks, comma-separated (e.g. hellaswag,arc_easy,piqa).")
@click.option("--include-path", type=click.Path(exists=True, file_okay=False), help="Folder of your own task YAML files.")
@click.option("--limit", type=click.IntRange(min=1), help="Score only the first N documents of each task.")
@click.option("--device", help="torch device [cuda if available, else cpu].")
@user_errors
def eval_(
    checkpoint: Path,
    no_validation: bool,
    problems: int | None,
    samples: int,
    ks: tuple[int, ...],
    tasks: str | None,
    include_path: str | None,
    limit: int | None,
    device: str | None,
):
    """Evaluate CHECKPOINT (e.g. runs/demo/cooldown/final): per-source validation bits per byte, HumanEval
    pass@k in mixer's sandbox, natural-language tasks through lm-evaluation-harness (the `eval` extra).

    Results go to CHECKPOINT.eval.json beside it; a rerun redoes only what is missing or changed.

    \b
    Example:
      mixer eval runs/demo/cooldown/final --humaneval 20
      mixer eval runs/demo/cooldown/final --tasks hellaswag,arc_easy --limit 500
    """
    from mixer.eval.checkpoint import evaluate_checkpoint
    from mixer.eval.settings import EvaluateSettings, HumanEvalSettings, LmEvalSettings

    settings = EvaluateSettings(
        validation=not no_validation,
        humaneval=HumanEvalSettings(problems=problems, samples=samples, k=list(ks) or [1]) if problems else None,
        lm_eval=LmEvalSettings(tasks=tasks.split(","), include_path=include_path, limit=limit) if tasks else None,
        device=device,
    )
    results = evaluate_checkpoint(checkpoint, settings, echo=click.echo)
    click.echo(json.dumps({k: v for k, v in results.items() if k != "checkpoint"}, indent=1))


@main.command("sample-corpus")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=Path("data/sample"))
@click.option("--min-bytes", type=click.IntRange(min=0), default=30_000_000, show_default=True)
@user_errors
def sample_corpus(folder: Path, min_bytes: int):
    """Gather the embedded sample corpus (real text and code found on this machine) into FOLDER.

    \b
    Example:
      mixer sample-corpus data/sample
    """
    from mixer.samples.corpus import SampleCorpusError, gather_sample_corpus

    try:
        summary = gather_sample_corpus(folder, min_bytes=min_bytes)
    except SampleCorpusError as e:
        raise MixerError(str(e)) from None
    for part in summary.parts.values():
        click.echo(
            f"{part.name:8s} {part.format:10s} {len(part.files):4d} files {part.documents:7,d} {part.unit:13s} "
            f"{part.text_bytes / 1e6:7.1f} MB"
        )
    click.echo(f"total {summary.total_bytes / 1e6:.1f} MB in {folder}")
    for note in summary.notes:
        click.echo(f"note: {note}", err=True)


if __name__ == "__main__":
    main()
