"""Slurm: the dry run shows the job scripts, a missing sbatch is a clear error, a rerun while jobs are queued
submits nothing, and ``mixer status`` shows per-source progress and the jobs. sbatch and squeue are stand-in
scripts on PATH."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import recipe_text

from mixer.cli import main
from mixer.shards.manifest import read_manifest

SLURM = "executor:\n  type: slurm\n  slurm: {partition: cpu-big, time: '2:00:00'%s}\n"


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """sbatch keeps each script it is given and answers with job ids 101, 102, ...; squeue prints the
    lines of ``queue`` (``<id> <state>``), as ``squeue --noheader --format='%i %T'`` does."""
    bin_dir, scripts = tmp_path / "bin", tmp_path / "scripts"
    bin_dir.mkdir()
    scripts.mkdir()
    queue = tmp_path / "queue"
    queue.write_text("")
    (bin_dir / "sbatch").write_text(
        f'#!/bin/sh\nfor a; do last="$a"; done\nn=$(($(ls {scripts} | wc -l) + 101))\n'
        f'cp "$last" {scripts}/job-$n.sh\necho "Submitted batch job $n"\n'
    )
    (bin_dir / "squeue").write_text(f"#!/bin/sh\ncat {queue}\n")
    for tool in ("sbatch", "squeue"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return scripts, queue


def write_recipe(corpus, tmp_path: Path, qos: str = "") -> Path:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(recipe_text(corpus["root"], extra=SLURM % qos))
    return recipe


def build(recipe: Path, out: Path, *args: str):
    return CliRunner().invoke(
        main, ["build", str(recipe), "-o", str(out), "--tasks", "2", "--workers", "2", *args]
    )


def test_the_dry_run_prints_the_job_scripts_and_writes_nothing(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no sbatch needed to look
    out = tmp_path / "out"
    result = build(write_recipe(corpus, tmp_path), out, "--dry-run")
    assert result.exit_code == 0, result.output
    scripts = result.output.split("# job ")[1:]
    assert [s.split("\n", 1)[0] for s in scripts] == [
        "mixer-web: 2 tasks",
        "mixer-code: 2 tasks",
        "mixer-notes: 2 tasks",
    ]
    web = scripts[0].splitlines()
    assert web[1] == "#!/bin/bash"
    for line in [
        "#SBATCH --partition=cpu-big",
        "#SBATCH --time=2:00:00",
        "#SBATCH --array=0-1%2",
        "#SBATCH --job-name=mixer-web",
        f"#SBATCH --output={out}/work/sources/web/<key>/datatrove/slurm_logs/%A_%a.out",
        f"srun -l -n 1 launch_pickled_pipeline {out}/work/sources/web/<key>/datatrove/executor.pik",
    ]:
        assert line in web, line
    assert not any(line.startswith("#SBATCH --qos") for line in web)  # the recipe sets no qos
    assert not out.exists()

    with_qos = build(
        write_recipe(corpus, tmp_path, ", qos: high"), out, "--dry-run", "--tasks", "3", "--workers", "3"
    )
    assert "#SBATCH --qos=high" in with_qos.output.split("# job ")[1].splitlines()
    assert "#SBATCH --array=0-2%3" in with_qos.output.split("# job ")[1].splitlines()


def test_without_sbatch_the_build_says_what_is_missing(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # git, sbatch: none of them
    result = build(write_recipe(corpus, tmp_path), tmp_path / "out")
    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: executor slurm: the `sbatch` command is not on PATH; run mixer build on a machine that submits "
        "Slurm jobs (a login node), or choose another executor (--executor local)\n"
    )


def test_a_rerun_while_jobs_are_queued_submits_nothing(corpus, tmp_path, cluster):
    scripts, queue = cluster
    recipe, out = write_recipe(corpus, tmp_path), tmp_path / "out"
    first = build(recipe, out)
    assert first.exit_code == 0, first.output
    # each source: its job array, then datatrove's stats job
    assert sorted(p.name for p in scripts.iterdir()) == [f"job-{n}.sh" for n in range(101, 107)]
    assert "#SBATCH --qos" not in (scripts / "job-101.sh").read_text()

    queue.write_text("101_[0-1] PENDING\n102 PENDING\n103_0 RUNNING\n103_1 PENDING\n104 PENDING\n")
    again = build(recipe, out)
    assert again.exit_code == 0, again.output
    assert again.output.endswith(
        "4 Slurm jobs of this build are still in the queue: 101 PENDING (mixer-web), 102 PENDING (mixer-web), "
        f"103 RUNNING (mixer-code), 104 PENDING (mixer-code); nothing was submitted. Follow them with `mixer "
        f"status {out}`; when they have finished, run `mixer build {recipe}` again\n"
    )
    assert len(list(scripts.iterdir())) == 6  # not 12

    status = CliRunner().invoke(main, ["status", str(out)])
    assert (status.exit_code, status.output) == (
        0,
        f"{out}: recipe 't', not finished (no manifest.json yet)\n"
        "  web              0 of 3 files tokenized (0%), 0 documents, 0 tokens\n"
        "  code             0 of 2 files tokenized (0%), 0 documents, 0 tokens\n"
        "  notes            0 of 20 files tokenized (0%), 0 documents, 0 tokens\n"
        "slurm jobs in the queue:\n"
        "  101 PENDING (mixer-web)\n"
        "  102 PENDING (mixer-web)\n"
        "  103 RUNNING (mixer-code)\n"
        "  104 PENDING (mixer-code)\n",
    )

    queue.write_text("")  # the jobs have left the queue: the next run goes on (here: submits again)
    third = build(recipe, out)
    assert third.exit_code == 0 and "submitted web, code, notes to slurm" in third.output
    assert len(list(scripts.iterdir())) == 12


def test_a_job_sbatch_refuses_is_a_clear_error(corpus, tmp_path, cluster):
    scripts, _ = cluster
    sbatch = scripts.parent / "bin" / "sbatch"
    sbatch.write_text("#!/bin/sh\necho 'sbatch: error: invalid partition specified: cpu-big' >&2\nexit 1\n")
    result = build(write_recipe(corpus, tmp_path), tmp_path / "out")
    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: sbatch refused job mixer-web (exit code 1; its message is above); check executor.slurm in the "
        "recipe (partition, time, qos, sbatch_args)\n"
    )


def test_status_of_a_local_build_finished_and_partly_done(corpus, tmp_path):
    out = tmp_path / "out"
    recipe = tmp_path / "local.yaml"
    recipe.write_text(recipe_text(corpus["root"]))
    assert CliRunner().invoke(main, ["build", str(recipe), "-o", str(out)]).exit_code == 0
    sources = read_manifest(out)["sources"]
    done = CliRunner().invoke(main, ["status", str(out)])
    assert done.output == f"{out}: recipe 't', finished (manifest.json)\n" + "".join(
        f"  {name:<16} done: {s['documents']:,} documents, {s['tokens']:,} tokens\n"
        for name, s in sources.items()
    )
    # a build stopped after tokenizing web, before assembling it
    import mixer.build.assemble

    def stop(name, *args, **kwargs):
        raise KeyboardInterrupt

    shutil.rmtree(out)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mixer.build.assemble, "assemble_source", stop)
        assert CliRunner().invoke(main, ["build", str(recipe), "-o", str(out)]).exit_code == 130
    web = sources["web"]
    partly = CliRunner().invoke(main, ["status", str(out)])
    assert partly.output.splitlines()[:2] == [
        f"{out}: recipe 't', not finished (no manifest.json yet)",
        f"  web              3 of 3 files tokenized (100%), {web['documents']:,} documents, {web['tokens']:,} tokens",
    ]
