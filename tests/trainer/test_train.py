"""`mixer train` end to end on a real (small) build: learning, logs, checkpoints, resume, cooldown, refusals,
two processes, export."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
import transformers
from click.testing import CliRunner
from conftest import recipe_text

from mixer.cli import main
from mixer.trainer.checkpoint import load_weights
from mixer.trainer.logs import read_metrics
from mixer.trainer.model import GPT

PHASES = """\
holdout: {fraction: 0.1, max_documents: 3}
phases:
  pretrain:
    tokens: 40000
    seq_len: 64
    weights: {web: 0.5, code: 0.3, notes: 0.2}
    max_repetition: 8
    train:
      model: tiny
      global_batch_tokens: 512     # 8 sequences of 64
      micro_batch: 4               # two micro-batches: gradient accumulation
      lr: 1.0e-2
      warmup_steps: 1
      eval_tokens: 1024
      eval_interval: 4
      checkpoint_interval: 2
      log_interval: 1
  cooldown:
    tokens: 8000
    seq_len: 64
    weights: {web: 0.3, code: 0.4, notes: 0.3}
    max_repetition: 8
    train:
      model: tiny
      global_batch_tokens: 512
      micro_batch: 8
      eval_tokens: 1024
      eval_interval: 100
"""
MIXER = [sys.executable, "-m", "mixer.cli"]
# Two process layouts sum the same gradients in another order (FSDP's reduce-scatter, the chunked loss's
# per-chunk sums): float-rounding differences of 1e-8. Adam divides each gradient by its own running RMS, so
# an entry whose gradient is near zero turns such noise into an update of up to the LR (1e-2 here): after 8
# steps a few of 40,000 weights differ by ~3e-4. A tenth of one step's largest update bounds that.
ADAM_ATOL = 1e-3
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trainbuild")
    recipe = tmp / "recipe.yaml"
    recipe.write_text(recipe_text(corpus["root"], extra=PHASES))
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp / "shards")])
    assert result.exit_code == 0, result.output
    return recipe, tmp / "shards"


def train_args(built, out: Path, phase: str = "pretrain", *extra: str) -> list[str]:
    recipe, shards = built
    return ["train", str(recipe), "--phase", phase, "--shards", str(shards), "--out", str(out), *extra]


def run_cli(args: list[str]):
    result = CliRunner().invoke(main, args)
    return result


def steps(run_dir: Path) -> list[dict]:
    return [r for r in read_metrics(run_dir / "metrics.jsonl") if r["event"] == "step"]


def evals(run_dir: Path) -> dict[int, dict]:
    return {r["step"]: r["sources"] for r in read_metrics(run_dir / "metrics.jsonl") if r["event"] == "eval"}


@pytest.fixture(scope="module")
def pretrained(built, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = run_cli(train_args(built, out, "pretrain", "--max-steps", "8"))
    assert result.exit_code == 0, result.output
    return out, result.output


def test_loss_falls_and_everything_is_logged(pretrained):
    out, output = pretrained
    run = out / "pretrain"
    logged = steps(run)
    assert [r["step"] for r in logged] == list(range(1, 9))
    assert [r["samples"] for r in logged] == [[8 * i, 8 * i + 8] for i in range(8)]
    assert logged[-1]["loss"] < logged[0]["loss"] - 0.5
    assert all(r["grad_norm"] > 0 and r["tokens_per_s"] > 0 and 0 <= r["data_share"] < 1 for r in logged)
    assert "mfu" not in logged[0]  # no known peak for a CPU
    before_after = evals(run)
    assert sorted(before_after) == [0, 4, 8]
    for source in ("web", "code", "notes"):
        assert before_after[8][source]["loss"] < before_after[0][source]["loss"]
        assert before_after[0][source]["bpb"] > 0
    assert "validation loss per source" in output and "before" in output
    state = json.loads((run / "final" / "state.json").read_text())
    assert (state["step"], state["consumed"], state["total_steps"], state["global_batch"]) == (8, 64, 8, 8)
    assert state["schedule"]["kind"] == "warmup_cosine"
    assert state["last_lr"] == pytest.approx(1e-3)  # min_lr defaults to lr / 10, reached at the last step
    assert sorted(p.name for p in run.iterdir()) == ["final", "metrics.jsonl", "tensorboard", "tokenizer"]
    assert (run / "tokenizer" / "tokenizer.json").is_file()
    assert any((run / "tensorboard").iterdir())


def test_bits_per_byte_is_loss_over_the_bytes_of_the_text(built, pretrained):
    _, shards = built
    out, _ = pretrained
    import math

    import numpy as np

    from mixer.trainer.evaluate import load_validation

    sets = load_validation(shards, ["web"], 1024)
    expected_bytes = int(np.load(shards / "validation" / "web.bytes.npy")[: sets["web"].documents].sum())
    assert sets["web"].bytes == expected_bytes > 0
    r = evals(out / "pretrain")[8]["web"]
    assert r["tokens"] == len(sets["web"].tokens) - 1  # every token but the first is predicted once
    assert r["bpb"] == pytest.approx(r["loss"] * r["tokens"] / math.log(2) / expected_bytes, rel=1e-9)


def test_finished_run_is_not_run_again(built, pretrained):
    out, _ = pretrained
    result = run_cli(train_args(built, out, "pretrain", "--max-steps", "8"))
    assert result.exit_code == 0, result.output
    assert "already finished" in result.output
    assert len(steps(out / "pretrain")) == 8


def test_cooldown_starts_from_pretrain_and_decays_to_zero(built, pretrained):
    out, _ = pretrained
    init = out / "pretrain" / "final"
    result = run_cli(train_args(built, out, "cooldown", "--init-from", str(init), "--max-steps", "5"))
    assert result.exit_code == 0, result.output
    pre = json.loads((init / "state.json").read_text())
    logged = steps(out / "cooldown")
    assert logged[0]["lr"] == pre["last_lr"]  # starts where the pretrain's schedule ended
    assert logged[-1]["lr"] == 0.0
    assert [r["lr"] for r in logged] == pytest.approx([pre["last_lr"] * (1 - i / 4) for i in range(5)])
    assert [r["samples"][0] for r in logged] == [0, 8, 16, 24, 32]  # data position reset
    state = json.loads((out / "cooldown" / "final" / "state.json").read_text())
    assert state["init_from"] == str(init)
    assert state["init_state"]["step"] == 8 and state["schedule"]["kind"] == "linear_decay"
    # the cooldown's first evaluation is the pretrained model's: same weights, so the same loss
    assert evals(out / "cooldown")[0]["web"]["loss"] == pytest.approx(
        evals(out / "pretrain")[8]["web"]["loss"]
    )


LONG_RUN = ["--max-steps", "40", "--set", "eval_interval=1000"]


@pytest.fixture(scope="module")
def reference_run(built, tmp_path_factory):
    """An uninterrupted 40-step run (checkpoints every 2 steps), to compare interrupted ones with."""
    reference = tmp_path_factory.mktemp("reference")
    subprocess.run(
        [*MIXER, *train_args(built, reference, "pretrain", *LONG_RUN)],
        env=ENV,
        check=True,
        capture_output=True,
    )
    return reference


def wait_for_steps(metrics: Path, count: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (
            metrics.is_file()
            and sum(1 for line in metrics.read_text().splitlines() if '"step"' in line) >= count
        ):
            return
        time.sleep(0.002)
    raise AssertionError(f"the run did not reach step {count}")


def assert_same_run(got: Path, want: Path) -> None:
    """Every step's loss, gradient norm, LR, samples and digest, and the final weights, exactly equal."""
    fields = ("loss", "grad_norm", "lr", "digest", "samples")
    assert [tuple(r[f] for f in fields) for r in steps(got / "pretrain")] == [
        tuple(r[f] for f in fields) for r in steps(want / "pretrain")
    ]
    _, a, _ = load_weights(want / "pretrain" / "final")
    _, b, _ = load_weights(got / "pretrain" / "final")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_kill_and_resume_gives_bit_identical_losses(built, reference_run, tmp_path):
    args = LONG_RUN
    reference = reference_run

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*MIXER, *train_args(built, killed, "pretrain", *args)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    metrics = killed / "pretrain" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (
            metrics.is_file()
            and sum(1 for line in metrics.read_text().splitlines() if '"step"' in line) >= 13
        ):
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not (killed / "pretrain" / "final").exists()
    complete = [p for p in (killed / "pretrain").glob("step-*") if (p / "state.json").is_file()]
    assert complete and all(not p.name.endswith(".tmp") for p in complete)  # a torn save is never complete

    resumed = subprocess.run(
        [*MIXER, *train_args(built, killed, "pretrain", *args)], env=ENV, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from" in resumed.stdout
    assert "pretrain: validation loss per source" in resumed.stdout  # step 0's evaluation read back
    assert sorted(p.name for p in (killed / "pretrain").iterdir()) == sorted(
        p.name for p in (reference / "pretrain").iterdir()
    )  # no checkpoint left behind, torn or not
    fields = ("loss", "grad_norm", "lr", "digest", "samples")
    want = [tuple(r[f] for f in fields) for r in steps(reference / "pretrain")]
    got = [tuple(r[f] for f in fields) for r in steps(killed / "pretrain")]
    assert got == want  # exact float equality, every step
    _, a, _ = load_weights(reference / "pretrain" / "final")
    _, b, _ = load_weights(killed / "pretrain" / "final")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("parallelism", ["ddp", "fsdp"])
def test_two_gloo_processes_see_the_same_data_as_one(built, pretrained, tmp_path, parallelism):
    single, _ = pretrained
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "mixer.cli",
            *train_args(
                built, tmp_path, "pretrain", "--max-steps", "8", "--set", f"parallelism={parallelism}"
            ),
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    one, two = steps(single / "pretrain"), steps(tmp_path / "pretrain")
    assert [r["digest"] for r in two] == [r["digest"] for r in one]
    assert [r["samples"] for r in two] == [r["samples"] for r in one]
    assert [r["loss"] for r in two] == pytest.approx([r["loss"] for r in one], rel=1e-4)
    state = json.loads((tmp_path / "pretrain" / "final" / "state.json").read_text())
    assert state["world"] == 2
    _, a, _ = load_weights(single / "pretrain" / "final")
    _, b, _ = load_weights(tmp_path / "pretrain" / "final")
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-3, atol=ADAM_ATOL)


def test_resuming_on_other_shards_is_refused(built, pretrained, tmp_path):
    recipe, shards = built
    out, _ = pretrained
    other = tmp_path / "shards"
    shutil.copytree(shards, other)
    changed = tmp_path / "recipe.yaml"
    changed.write_text(
        recipe.read_text().replace("{web: 0.5, code: 0.3, notes: 0.2}", "{web: 0.2, code: 0.3, notes: 0.5}")
    )
    assert run_cli(["mix", str(changed), "-o", str(other)]).exit_code == 0
    result = run_cli(
        [
            "train",
            str(changed),
            "--phase",
            "pretrain",
            "--shards",
            str(other),
            "--out",
            str(out),
            "--max-steps",
            "8",
        ]
    )
    assert result.exit_code == 2
    assert "was trained on other shards" in result.output and "new --out" in result.output


def test_settings_errors_name_the_key(built, tmp_path):
    result = run_cli(train_args(built, tmp_path, "pretrain", "--set", "lrr=1"))
    assert result.exit_code == 2
    assert "train.lrr: unknown setting; valid settings: model," in result.output
    result = run_cli(train_args(built, tmp_path, "pretrain", "--set", "global_batch_tokens=500"))
    assert result.exit_code == 2
    assert (
        "train.global_batch_tokens (500) must be a multiple of the phase's seq_len (64); e.g. 448"
        in result.output
    )
    result = run_cli(train_args(built, tmp_path, "nophase"))
    assert (
        result.exit_code == 2
        and "phases.nophase: no such phase; the recipe's phases are pretrain, cooldown" in result.output
    )
    config = tmp_path / "train.yaml"
    config.write_text("model: tiny\nmicro_batch: 0\n")
    result = run_cli(train_args(built, tmp_path, "pretrain", "--train-config", str(config)))
    assert result.exit_code == 2
    assert (
        f"{config}: 1 problem" in result.output
        and "micro_batch: Input should be greater than 0" in result.output
    )
    result = run_cli(train_args(built, tmp_path, "pretrain", "--max-steps", "100000"))
    assert result.exit_code == 2 and "exceeds the" in result.output


def test_init_from_a_different_model_is_refused(built, pretrained, tmp_path):
    out, _ = pretrained
    result = run_cli(
        train_args(
            built,
            tmp_path,
            "cooldown",
            "--init-from",
            str(out / "pretrain" / "final"),
            "--set",
            "tie_embeddings=true",
        )
    )
    assert result.exit_code == 2
    assert "holds a different model" in result.output


def test_export_hf_gives_the_same_logits(pretrained, tmp_path):
    out, _ = pretrained
    final = out / "pretrain" / "final"
    result = run_cli(["export-hf", str(final), str(tmp_path / "hf")])
    assert result.exit_code == 0, result.output
    config, state_dict, _ = load_weights(final)
    ours = GPT(config)
    ours.load_state_dict(state_dict)
    theirs = transformers.AutoModelForCausalLM.from_pretrained(
        tmp_path / "hf", dtype=torch.float32, local_files_only=True
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    ids = torch.tensor([tokenizer.encode("def add(a, b):\n    return a + b\n")])
    with torch.no_grad():
        torch.testing.assert_close(theirs(ids).logits, ours(ids)[0], atol=1e-5, rtol=1e-5)


def test_recipe_model_names_are_the_presets():
    from typing import get_args

    from mixer.recipe import MODEL_PRESETS, TrainSettings
    from mixer.trainer.model import PRESETS

    assert MODEL_PRESETS == tuple(PRESETS)
    assert get_args(TrainSettings.model_fields["model"].annotation) == MODEL_PRESETS


def test_peak_flops_lookup():
    from mixer.trainer.logs import PEAK_BF16_TFLOPS, peak_flops

    cpu = torch.device("cpu")
    assert peak_flops(cpu, "bf16", None) is None
    assert peak_flops(cpu, "fp32", 2.5) == 2.5e12
    # substring order: the more specific names must come before the names they contain
    names = [n for n, _ in PEAK_BF16_TFLOPS]
    for i, name in enumerate(names):
        assert not any(earlier in name for earlier in names[:i]), name


def test_training_runs_without_the_build_stack(built, tmp_path):
    recipe, shards = built
    blocked = ["datatrove", "tokenizers", "tiktoken", "datasets", "pyarrow", "numba", "zstandard", "orjson"]
    code = f"""
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # any import of these now fails
from pathlib import Path
from mixer.recipe import load_recipe
from mixer.trainer.settings import resolve_settings
from mixer.trainer.train import TrainRequest, train
recipe = load_recipe({str(recipe)!r})
settings = resolve_settings(recipe, "pretrain", overrides={{"max_steps": 2}})
train(TrainRequest(Path({str(shards)!r}), "pretrain", Path({str(tmp_path)!r}), settings, recipe.name, recipe.seed))
"""
    result = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "pretrain" / "final" / "state.json").read_text())["step"] == 2


def test_broken_shards_are_refused_at_start(built, tmp_path):
    recipe, shards = built
    broken = tmp_path / "shards"
    shutil.copytree(shards, broken)
    index = broken / "sources" / "web" / "00000.idx"
    index.write_bytes(index.read_bytes()[:-8])
    result = run_cli(
        ["train", str(recipe), "--phase", "pretrain", "--shards", str(broken), "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 2
    assert (
        f"{index}: " in result.output and f"run `mixer verify {broken}` for the full check" in result.output
    )
    assert not (tmp_path / "run").exists()


class Interrupted(Exception):
    pass


def interrupt_at(built, out: Path, step: int, max_steps: int = 8) -> None:
    """Run the pretrain phase in this process as `--max-steps max_steps` would, stopping it as it reports
    `step`: like a kill after step `step - 1`'s checkpoint (the interval is 2)."""
    from mixer.recipe import load_recipe
    from mixer.trainer.settings import resolve_settings
    from mixer.trainer.train import TrainRequest, train

    recipe_path, shards = built
    recipe = load_recipe(recipe_path)
    settings = resolve_settings(recipe, "pretrain", overrides={"max_steps": max_steps})

    def echo(line: str) -> None:
        if line.startswith(f"pretrain step {step}/"):
            raise Interrupted

    with pytest.raises(Interrupted):
        train(TrainRequest(shards, "pretrain", out, settings, recipe.name, recipe.seed), echo=echo)
    assert (out / "pretrain" / f"step-{step - 1:06d}" / "state.json").is_file()
    assert not (out / "pretrain" / "final").exists()


def before_after_table(output: str) -> list[str]:
    lines = output.splitlines()
    start = lines.index("pretrain: validation loss per source (nats/token; bits/byte)")
    return lines[start : start + 5]  # title, header, web, code, notes


def test_a_resumed_run_prints_the_before_after_table(built, pretrained, tmp_path):
    uninterrupted, uninterrupted_output = pretrained
    interrupt_at(built, tmp_path, 5)
    result = run_cli(train_args(built, tmp_path, "pretrain", "--max-steps", "8"))
    assert result.exit_code == 0, result.output
    assert f"resuming from {tmp_path / 'pretrain' / 'step-000004'} at step 4" in result.output
    assert "pretrain step 0: validation" not in result.output  # step 0's evaluation is read, not rerun
    assert [r["loss"] for r in steps(tmp_path / "pretrain")] == [
        r["loss"] for r in steps(uninterrupted / "pretrain")
    ]
    table = before_after_table(result.output)
    assert table == before_after_table(uninterrupted_output)
    assert [line.split()[0] for line in table[2:]] == ["web", "code", "notes"]
    first = evals(tmp_path / "pretrain")[0]
    assert table[2].split()[1] == f"{first['web']['loss']:.3f};"


def torchrun_two(args: list[str]) -> subprocess.CompletedProcess:
    """``mixer`` with ``args`` under torchrun, 2 processes (gloo on the CPU)."""
    torchrun = Path(sys.executable).with_name("torchrun")
    return subprocess.run(
        [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "mixer.cli", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("parallelism", ["ddp", "fsdp"])
def test_a_run_checkpointed_by_one_process_resumes_on_two_with_the_same_data(
    built, pretrained, tmp_path, parallelism
):
    single, _ = pretrained
    interrupt_at(built, tmp_path, 5)
    args = train_args(built, tmp_path, "pretrain", "--max-steps", "8", "--set", f"parallelism={parallelism}")
    result = torchrun_two(args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "at step 4 (32 samples consumed)" in result.stdout
    assert "2 process(es) on cpu" in result.stdout
    one, resumed = steps(single / "pretrain"), steps(tmp_path / "pretrain")
    assert [r["samples"] for r in resumed] == [r["samples"] for r in one]
    assert [r["digest"] for r in resumed] == [r["digest"] for r in one]  # the same samples, in order
    assert [r["loss"] for r in resumed[:4]] == [r["loss"] for r in one[:4]]  # the first start's, exactly
    assert [r["loss"] for r in resumed[4:]] == pytest.approx([r["loss"] for r in one[4:]], rel=1e-4)
    state = json.loads((tmp_path / "pretrain" / "final" / "state.json").read_text())
    assert (state["world"], state["step"], state["consumed"]) == (2, 8, 64)
    _, a, _ = load_weights(single / "pretrain" / "final")
    _, b, _ = load_weights(tmp_path / "pretrain" / "final")
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-3, atol=1e-4)
    assert "validation loss per source" in result.stdout


@pytest.fixture(scope="module")
def bf16_run(built, tmp_path_factory):
    out = tmp_path_factory.mktemp("bf16")
    result = run_cli(train_args(built, out, "pretrain", "--max-steps", "3", "--set", "precision=bf16"))
    assert result.exit_code == 0, result.output
    return out, result.output


def test_bf16_autocast_runs_on_the_cpu(pretrained, bf16_run):
    fp32, _ = pretrained
    out, output = bf16_run
    assert "1 process(es) on cpu, bf16;" in output
    fp32_losses = [r["loss"] for r in steps(fp32 / "pretrain")[:3]]
    bf16_losses = [r["loss"] for r in steps(out / "pretrain")]
    # bf16 matmuls round differently: close to the fp32 run, but not equal to it
    assert bf16_losses == pytest.approx(fp32_losses, rel=2e-2)
    assert all(a != b for a, b in zip(bf16_losses, fp32_losses, strict=True))
    first = evals(out / "pretrain")[0]
    assert first["web"]["loss"] == pytest.approx(evals(fp32 / "pretrain")[0]["web"]["loss"], rel=2e-2)
    assert first["web"]["loss"] != evals(fp32 / "pretrain")[0]["web"]["loss"]  # evaluation autocasts too
    assert all("mfu" not in r for r in steps(out / "pretrain"))  # no known peak for a CPU


def test_fsdp_with_bf16_mixed_precision_on_two_gloo_processes(built, bf16_run, tmp_path):
    one_process, _ = bf16_run
    settings = ["--set", "precision=bf16", "--set", "parallelism=fsdp"]
    result = torchrun_two(train_args(built, tmp_path, "pretrain", "--max-steps", "3", *settings))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 process(es) on cpu, bf16;" in result.stdout
    one, two = steps(one_process / "pretrain"), steps(tmp_path / "pretrain")
    assert [r["digest"] for r in two] == [r["digest"] for r in one]
    # bf16 parameters (the policy) on top of bf16 autocast: close to the one-process bf16 run
    assert [r["loss"] for r in two] == pytest.approx([r["loss"] for r in one], rel=2e-2)
    _, weights, _ = load_weights(tmp_path / "pretrain" / "final")
    assert all(w.dtype == torch.float32 for w in weights.values())  # master weights stay fp32


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
@pytest.mark.parametrize(
    ("scope", "recompute"),
    [("blocks", False), ("model", False), ("blocks", True)],
    ids=["blocks", "model", "blocks-with-activation-checkpointing"],
)
def test_compiled_training_matches_eager(built, pretrained, tmp_path, scope, recompute):
    """Compiled per block (checkpointing compiled into the block) or as one graph, the loss chunk compiled
    too: the eager run's losses. Recomputing activations changes nothing either."""
    eager, _ = pretrained
    settings = ["--set", "compile=true", "--set", f"compile_scope={scope}"]
    if recompute:
        settings += ["--set", "activation_checkpointing=true"]
    result = run_cli(train_args(built, tmp_path, "pretrain", "--max-steps", "2", *settings))
    assert result.exit_code == 0, result.output
    assert "1 process(es) on cpu, fp32, compiled;" in result.output
    assert f"compile {scope}, loss chunks of 8192" in result.output
    compiled = [r["loss"] for r in steps(tmp_path / "pretrain")]
    assert compiled == pytest.approx([r["loss"] for r in steps(eager / "pretrain")[:2]], rel=1e-5)


def test_fused_adamw_only_on_cuda():
    from mixer.trainer.train import use_fused_adamw

    assert use_fused_adamw(torch.device("cuda"))
    assert use_fused_adamw(torch.device("cuda", 1))
    assert not use_fused_adamw(torch.device("cpu"))
    assert not use_fused_adamw(torch.device("meta"))


def test_cpu_training_builds_an_unfused_adamw():
    from mixer.recipe import TrainSettings
    from mixer.trainer.model import preset_config
    from mixer.trainer.train import _optimizer

    model = GPT(preset_config("tiny", vocab_size=256, seq_len=16))
    optimizer = _optimizer(model, TrainSettings(model="tiny"), torch.device("cpu"))
    assert not optimizer.defaults["fused"]
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]


def test_fsdp_policy_is_bf16_compute_with_fp32_reduction():
    from torch.distributed.fsdp import MixedPrecisionPolicy

    from mixer.trainer.train import fsdp_mixed_precision

    bf16 = fsdp_mixed_precision("bf16")
    assert (bf16.param_dtype, bf16.reduce_dtype) == (torch.bfloat16, torch.float32)
    fp32 = fsdp_mixed_precision("fp32")
    assert fp32 == MixedPrecisionPolicy()
    assert (fp32.param_dtype, fp32.reduce_dtype) == (None, None)  # compute and reduce in the parameters' fp32


def test_train_without_torch_names_the_package_to_install(built, tmp_path):
    recipe, shards = built
    code = f"""
import sys
sys.modules["torch"] = None  # as if torch were not installed
from mixer.cli import main
main({["train", str(recipe), "--phase", "pretrain", "--shards", str(shards), "--out", str(tmp_path)]!r})
"""
    result = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "Error: the trainer (`mixer train`) needs the package 'torch', which is not installed: "
        "run `pip install 'mixer[train]'`\n"
    )
    assert not (tmp_path / "pretrain").exists()


def test_export_without_torch_names_the_package_to_install(tmp_path):
    code = f"""
import sys
sys.modules["torch"] = None  # as if torch were not installed
from mixer.cli import main
main({["export-hf", str(tmp_path), str(tmp_path / "hf")]!r})
"""
    result = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "Error: the trainer (`mixer train`) needs the package 'torch', which is not installed: "
        "run `pip install 'mixer[train]'`\n"
    )


def test_sigterm_stops_cleanly_and_the_resumed_run_is_the_uninterrupted_one(built, reference_run, tmp_path):
    """SIGTERM (a scheduler's stop) unwinds the run: the prefetch thread is joined, the process exits with
    143 promptly, and running the command again continues exactly as if nothing had happened."""
    proc = subprocess.Popen(
        [*MIXER, *train_args(built, tmp_path, "pretrain", *LONG_RUN)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_steps(tmp_path / "pretrain" / "metrics.jsonl", 13, proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "pretrain: stopped by SIGTERM; run the same command again to resume" in stdout
    assert "Traceback" not in stderr
    assert not (tmp_path / "pretrain" / "final").exists()

    resumed = subprocess.run(
        [*MIXER, *train_args(built, tmp_path, "pretrain", *LONG_RUN)], env=ENV, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from" in resumed.stdout
    assert_same_run(tmp_path, reference_run)


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "mixer-prefetch"]


def test_prefetching_changes_no_sample_and_no_loss_across_an_interruption(built, pretrained, tmp_path):
    """The prefetcher on (the default), interrupted after step 4's checkpoint while it had read ahead, and
    resumed: the same samples, digests and losses, bit for bit, as a run that reads in the loop."""
    off = tmp_path / "off"
    result = run_cli(train_args(built, off, "pretrain", "--max-steps", "8", "--set", "prefetch=false"))
    assert result.exit_code == 0, result.output
    assert "prefetch off" in result.output
    fields = ("loss", "grad_norm", "digest", "samples")
    want = [tuple(r[f] for f in fields) for r in steps(off / "pretrain")]
    on, _ = pretrained
    assert [tuple(r[f] for f in fields) for r in steps(on / "pretrain")] == want

    interrupted = tmp_path / "interrupted"
    interrupt_at(built, interrupted, 5)
    assert not prefetch_threads()  # the exception closed the prefetcher and joined its thread
    state = json.loads((interrupted / "pretrain" / "step-000004" / "state.json").read_text())
    assert state["consumed"] == 32  # the steps trained, not the ones read ahead
    result = run_cli(train_args(built, interrupted, "pretrain", "--max-steps", "8"))
    assert result.exit_code == 0, result.output
    assert [tuple(r[f] for f in fields) for r in steps(interrupted / "pretrain")] == want
    assert not prefetch_threads()


def test_speed_settings_change_no_result(built, pretrained, tmp_path):
    """Full logits instead of the chunked loss, the math attention kernel first, no prefetching: the losses
    of the default settings up to float summation order."""
    default, _ = pretrained
    result = run_cli(
        train_args(
            built,
            tmp_path,
            "pretrain",
            "--max-steps",
            "3",
            *("--set", "loss_chunk_tokens=0", "--set", "attention=math", "--set", "prefetch=false"),
        )
    )
    assert result.exit_code == 0, result.output
    assert "1 process(es) on cpu, fp32; LR warmup_cosine" in result.output
    assert "attention math, full logits, prefetch off" in result.output
    plain = [r["loss"] for r in steps(tmp_path / "pretrain")]
    assert plain == pytest.approx([r["loss"] for r in steps(default / "pretrain")[:3]], rel=1e-5)
    state = json.loads((tmp_path / "pretrain" / "final" / "state.json").read_text())
    assert (state["settings"]["loss_chunk_tokens"], state["settings"]["attention"]) == (0, "math")


def test_checkpoint_and_evaluation_times_are_logged(pretrained):
    out, _ = pretrained
    records = read_metrics(out / "pretrain" / "metrics.jsonl")
    saves = {r["step"]: r for r in records if r["event"] == "checkpoint"}
    assert sorted(saves) == [2, 4, 6, 8]  # every checkpoint_interval (2) steps, and the final one
    assert saves[8]["path"] == str(out / "pretrain" / "final")
    assert all(r["seconds"] > 0 for r in saves.values())
    assert all(r["seconds"] > 0 for r in records if r["event"] == "eval")
    assert all("profiled" not in r and "max_memory_gib" not in r for r in steps(out / "pretrain"))


def test_profile_of_a_step_without_checkpoints(built, tmp_path):
    result = run_cli(
        train_args(
            built,
            tmp_path,
            "pretrain",
            "--max-steps",
            "3",
            *("--set", "profile_at=2", "--set", "save_checkpoints=false", "--set", "checkpoint_interval=1"),
        )
    )
    assert result.exit_code == 0, result.output
    run = tmp_path / "pretrain"
    assert [r.get("profiled", False) for r in steps(run)] == [False, True, False]
    assert f"profile of steps 2-2 (1): {run / 'profile'}" in result.output
    assert sorted(p.name for p in (run / "profile").iterdir()) == [
        "top-rank0.json",
        "top-rank0.txt",
        "trace-rank0.json.gz",
    ]
    top = json.loads((run / "profile" / "top-rank0.json").read_text())
    assert top and {"name", "calls", "self_device_ms", "self_cpu_ms"} <= set(top[0])
    assert top[0]["self_cpu_ms"] >= top[-1]["self_cpu_ms"]  # sorted by self time (CPU: no device)
    assert "Self CPU" in (run / "profile" / "top-rank0.txt").read_text()
    # no checkpoint at all: neither every step (checkpoint_interval=1) nor at the end
    assert sorted(p.name for p in run.iterdir()) == ["metrics.jsonl", "profile", "tensorboard", "tokenizer"]
    assert "pretrain: done, 3 steps; no checkpoint written (save_checkpoints is off)" in result.output


def test_device_cuda_without_a_gpu_is_a_clear_error(built, tmp_path):
    result = run_cli(train_args(built, tmp_path, "pretrain", "--device", "cuda"))
    assert result.exit_code == 2
    assert "--device cuda asks for a GPU, but torch sees none" in result.output
    assert not (tmp_path / "pretrain").exists()


def test_speed_settings_are_validated_with_the_choices(built, tmp_path):
    result = run_cli(train_args(built, tmp_path, "pretrain", "--set", "attention=fast"))
    assert result.exit_code == 2
    assert "train.attention: Input should be 'auto', 'cudnn', 'flash', 'efficient' or 'math'" in result.output
    result = run_cli(train_args(built, tmp_path, "pretrain", "--set", "loss_chunk_tokens=-1"))
    assert result.exit_code == 2
    assert "train.loss_chunk_tokens: Input should be greater than or equal to 0" in result.output


def test_a_phase_starts_from_an_exported_hugging_face_model(built, pretrained, tmp_path):
    """Continued pretraining of a released model: the exported pretrain run, loaded back by --init-from,
    scores what the run scored at its end; its shape comes from config.json, not the phase's preset."""
    out, _ = pretrained
    final = out / "pretrain" / "final"
    assert run_cli(["export-hf", str(final), str(tmp_path / "hf")]).exit_code == 0
    # the phase asks for another preset: the model's own config.json decides the shape
    result = run_cli(
        train_args(built, tmp_path / "run", "cooldown", "--init-from", str(tmp_path / "hf"), "--model", "125m")
    )
    assert result.exit_code == 0, result.output
    assert f"cooldown: starting from the Hugging Face model {tmp_path / 'hf'} (weights; a fresh optimizer)" in result.output
    state = json.loads((tmp_path / "run" / "cooldown" / "final" / "state.json").read_text())
    assert state["model_config"] == json.loads((final / "state.json").read_text())["model_config"]
    assert state["init_from"] == str(tmp_path / "hf") and state["schedule"]["kind"] == "warmup_cosine"
    before = evals(tmp_path / "run" / "cooldown")[0]
    after_pretrain = evals(out / "pretrain")[8]
    for source, scores in after_pretrain.items():
        assert before[source]["loss"] == pytest.approx(scores["loss"], rel=1e-5)


def test_a_hugging_face_model_of_another_vocabulary_is_refused(built, pretrained, tmp_path):
    out, _ = pretrained
    assert run_cli(["export-hf", str(out / "pretrain" / "final"), str(tmp_path / "hf")]).exit_code == 0
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    (tmp_path / "hf" / "config.json").write_text(json.dumps({**config, "vocab_size": config["vocab_size"] + 1}))
    result = run_cli(train_args(built, tmp_path / "run", "cooldown", "--init-from", str(tmp_path / "hf")))
    assert result.exit_code == 2
    assert f"--init-from {tmp_path / 'hf'} has a vocabulary of {config['vocab_size'] + 1} ids" in result.output
