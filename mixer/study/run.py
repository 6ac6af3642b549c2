"""``mixer study STUDY``: build the corpus once, blend each mixture, train its phases in order, evaluate.

    shards/<corpus>/                         the corpus (``mixer build`` of the corpus recipe)
    shards/<corpus>/mixtures/<mixture>/      each mixture's blends (:mod:`mixer.study.mixtures`)
    runs/<study>/<mixture>/<phase>/final/    each phase's final checkpoint; the next phase starts from it
    runs/<study>/<mixture>/<phase>/final.eval.json
    runs/<study>/study.json, report.html     every number, and the comparison

Every step is checked before it runs and skipped when its result is there and current, so running the
study again resumes it: an interrupted training resumes from its newest checkpoint (the trainer's own
resume), an interrupted evaluation from its last finished part. Training runs as ``python -m mixer.cli
train`` in a process of its own, behind the study's ``launcher`` (``torchrun ...``) when it has one;
mixtures train one after another. To train them as separate jobs instead (a Slurm array, several
machines), run the commands ``--dry-run`` prints, then ``mixer study`` again to evaluate and compare.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixer.build.plan import Echo, default_output
from mixer.errors import MixerError
from mixer.study.spec import Study

FINAL = "final"  # mixer.trainer.checkpoint.FINAL; the study needs no torch to plan


@dataclass
class Step:
    kind: str  # build | blend | train | evaluate
    mixture: str | None
    phase: str | None
    done: bool
    command: list[str] = field(default_factory=list)  # train: the command that runs it


def runs_root(study: Study, runs: Path | None = None) -> Path:
    return (runs or Path("runs")) / study.name


def corpus_output(study: Study) -> Path:
    return default_output(study.corpus)


def plan_study(study: Study, runs: Path | None = None) -> list[Step]:
    """Every step of the study, in order, and whether its result is already there."""
    corpus = corpus_output(study)
    steps = [Step("build", None, None, _built(corpus, study))]
    root = runs_root(study, runs)
    for name, recipe in study.mixtures.items():
        view = corpus / "mixtures" / name
        steps.append(Step("blend", name, None, _blended(view, recipe)))
        previous = _init(study, name)
        phases = list(recipe.phases)
        for phase in phases:
            final = root / name / phase / FINAL
            steps.append(
                Step(
                    "train",
                    name,
                    phase,
                    (final / "state.json").is_file(),
                    train_command(study, name, phase, previous, runs),
                )
            )
            previous = final
        evaluated = phases if study.spec.evaluate.phases == "all" else phases[-1:]
        for phase in evaluated:
            steps.append(Step("evaluate", name, phase, _evaluated(root / name / phase / FINAL, study)))
    return steps


def train_command(
    study: Study, mixture: str, phase: str, init_from: Path | None, runs: Path | None = None
) -> list[str]:
    view = corpus_output(study) / "mixtures" / mixture
    launcher = study.spec.launcher or [sys.executable]
    command = [*launcher, "-m", "mixer.cli", "train", str(view / "recipe.yaml"), "--phase", phase]
    command += ["--shards", str(view), "--out", str(runs_root(study, runs) / mixture)]
    if init_from is not None:
        command += ["--init-from", str(init_from)]
    return command


def describe(study: Study, steps: list[Step]) -> str:
    """The dry-run text: what is built, blended, trained and evaluated, and what is already done."""
    lines = [f"# study {study.name} ({study.path}): corpus {study.corpus.name} ({study.corpus_path})"]
    for s in steps:
        status = "done" if s.done else "to do"
        if s.kind == "build":
            what = f"build the corpus into {corpus_output(study)}"
        elif s.kind == "blend":
            what = f"blend mixture {s.mixture} ({', '.join(study.mixtures[s.mixture].phases)})"
        elif s.kind == "train":
            what = f"train {s.mixture}/{s.phase}: {' '.join(s.command)}"
        else:
            what = f"evaluate {s.mixture}/{s.phase}/{FINAL}"
        lines.append(f"[{status:5}] {what}")
    ev = study.spec.evaluate
    parts = ["validation bpb" if ev.validation else None]
    if ev.humaneval:
        parts.append(
            f"HumanEval ({ev.humaneval.problems or 164} problems, pass@{'/'.join(map(str, ev.humaneval.k))})"
        )
    if ev.lm_eval:
        parts.append(f"lm-eval ({', '.join(ev.lm_eval.tasks)})")
    lines.append("evaluation: " + ", ".join(p for p in parts if p))
    return "\n".join(lines)


def run_study(
    study: Study, *, runs: Path | None = None, echo: Echo = print, evaluate: bool = True
) -> dict[str, Any]:
    """Run every step that is not done; return the study's results (also written to study.json)."""
    import time

    from mixer.build import BuildOptions, plan_build, run_build
    from mixer.study.mixtures import blend_mixture

    steps = plan_study(study, runs)
    corpus = corpus_output(study)
    timings: dict[str, float] = {"build": 0.0, "blend": 0.0, "train": 0.0, "evaluate": 0.0}
    started = time.perf_counter()
    if not steps[0].done:
        echo(f"study {study.name}: building the corpus {study.corpus.name}")
        run_build(plan_build(study.corpus, str(study.corpus_path)), BuildOptions(echo=echo))
    timings["build"] += time.perf_counter() - started
    for step in steps[1:]:
        started = time.perf_counter()
        if step.kind == "blend":
            echo(f"study {study.name}: mixture {step.mixture}")
            blend_mixture(corpus, study.mixtures[step.mixture], step.mixture, echo=echo)
        elif step.kind == "train" and not step.done:
            echo(f"study {study.name}: training {step.mixture}/{step.phase}")
            _run(step.command)
        elif step.kind == "evaluate" and evaluate:
            from mixer.eval.checkpoint import evaluate_checkpoint

            evaluate_checkpoint(
                runs_root(study, runs) / step.mixture / step.phase / FINAL, study.spec.evaluate, echo=echo
            )
        timings[step.kind] += time.perf_counter() - started
    echo(f"study {study.name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + " (this run)")
    from mixer.study.report import collect, write_report

    results = collect(study, runs_root(study, runs))
    write_report(results, runs_root(study, runs), echo)
    return results


def _run(command: list[str]) -> None:
    env = dict(os.environ)
    try:
        done = subprocess.run(command, env=env)
    except FileNotFoundError:
        raise MixerError(f"cannot run {command[0]!r}: not found; check the study's `launcher`") from None
    if done.returncode != 0:
        raise MixerError(
            f"training stopped (exit status {done.returncode}): {' '.join(command)}; fix what it said and run "
            "the study again: finished phases are kept and the interrupted one resumes"
        )


def _built(corpus: Path, study: Study) -> bool:
    manifest = corpus / "manifest.json"
    if not manifest.is_file():
        return False
    return json.loads(manifest.read_text())["recipe"]["hash"] == study.corpus.content_hash()


def _blended(view: Path, recipe) -> bool:
    manifest = view / "manifest.json"
    return manifest.is_file() and json.loads(manifest.read_text())["recipe"]["hash"] == recipe.content_hash()


def _evaluated(checkpoint: Path, study: Study) -> bool:
    from mixer.eval.checkpoint import results_path

    path = results_path(checkpoint)
    if not path.is_file():
        return False
    results = json.loads(path.read_text())
    ev = study.spec.evaluate
    wanted = [
        n
        for n, on in (("validation", ev.validation), ("humaneval", ev.humaneval), ("lm_eval", ev.lm_eval))
        if on
    ]
    return all(n in results for n in wanted)


def _init(study: Study, mixture: str) -> Path | None:
    init = study.spec.mixtures[mixture].init
    return (study.path.parent / init).resolve() if init else None
