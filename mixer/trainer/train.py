"""`mixer train`: one phase of training on a build's phase blend, resumable, single- or multi-process.

A run lives in `<out>/<phase>/`: `metrics.jsonl`, `tensorboard/`, `tokenizer/` (a copy, for export),
checkpoints `step-NNNNNN/` and, when the phase is done, `final/`. Starting the same command again resumes
from the newest checkpoint: same weights, optimizer moments and data position, so the losses that follow
are the ones an uninterrupted run would have logged. A run on other shards (a different blend or tokenizer
fingerprint) is refused rather than silently continued.

A cooldown (`--init-from <run>/<pretrain phase>/final`) loads weights and optimizer moments, starts at step
0 of its own phase blend, and by default decays the LR linearly from where that run's schedule ended to 0.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.distributed.fsdp import MixedPrecisionPolicy

from mixer.errors import MixerError
from mixer.mixing.reader import BlendReader
from mixer.recipe import TrainSettings
from mixer.shards.manifest import read_manifest
from mixer.shards.verify import VerifyError, verify_output
from mixer.trainer import checkpoint
from mixer.trainer.data import PhaseBatches
from mixer.trainer.dist import Dist, setup, teardown
from mixer.trainer.evaluate import evaluate, load_validation
from mixer.trainer.hf_import import check_tokenizer, hf_model_config, hf_weights, is_hf_model
from mixer.trainer.logs import RunLog, peak_flops, read_metrics
from mixer.trainer.model import GPT, Execution, ModelConfig, count_parameters, flops_per_token, preset_config
from mixer.trainer.prefetch import Prefetcher
from mixer.trainer.profile import StepProfiler
from mixer.trainer.schedule import Schedule
from mixer.trainer.speed import attention_backend, training_execution

Echo = Callable[[str], None]


class TrainError(MixerError):
    """A training run that cannot start as asked; the message says why and what to do."""


@dataclass
class TrainRequest:
    output: Path  # the build's output folder (shards/<recipe name>)
    phase: str
    out: Path  # the run folder; this phase trains in out/<phase>
    settings: TrainSettings
    recipe_name: str
    recipe_seed: int
    init_from: Path | None = None
    device: str | None = None  # default: this rank's GPU, else the CPU


@dataclass
class Plan:
    """Everything fixed before the first step, derived from the build and the settings."""

    reader: BlendReader
    manifest: dict[str, Any]
    model_config: ModelConfig
    global_batch: int  # samples per optimizer step, all processes together
    total_steps: int
    fingerprint: dict[str, str]
    precision: str
    compile: bool


def plan(req: TrainRequest, d: Dist) -> Plan:
    s = req.settings
    manifest = read_manifest(req.output)
    try:
        verify_output(req.output, quick=True)  # index files only: a second or so even for a large build
    except VerifyError as e:
        raise TrainError(f"{e}; run `mixer verify {req.output}` for the full check, and rebuild") from None
    try:
        reader = BlendReader(req.output, req.phase)
    except FileNotFoundError:
        phases = ", ".join(manifest.get("phases", {})) or "none"
        raise TrainError(
            f"{req.output} has no blend for phase '{req.phase}' (phases built: {phases}); add the phase to "
            "the recipe and run `mixer mix RECIPE`"
        ) from None
    seq_len = reader.seq_len
    if s.global_batch_tokens % seq_len:
        raise TrainError(
            f"train.global_batch_tokens ({s.global_batch_tokens}) must be a multiple of the phase's seq_len "
            f"({seq_len}); e.g. {max(1, s.global_batch_tokens // seq_len) * seq_len}"
        )
    global_batch = s.global_batch_tokens // seq_len
    per_rank = global_batch // d.world
    if global_batch % d.world or per_rank % s.micro_batch:
        raise TrainError(
            f"train.global_batch_tokens gives {global_batch} sequences per step, which must split into "
            f"{d.world} process(es) x a multiple of train.micro_batch ({s.micro_batch}); change either"
        )
    phase_steps = len(reader) // global_batch
    if phase_steps == 0:
        raise TrainError(
            f"phase '{req.phase}' has {len(reader)} samples, fewer than one global batch of {global_batch}; "
            "lower train.global_batch_tokens or raise the phase's tokens"
        )
    if s.max_steps is not None and s.max_steps > phase_steps:
        raise TrainError(
            f"train.max_steps ({s.max_steps}) exceeds the {phase_steps} steps that phase '{req.phase}' holds "
            f"at {global_batch} sequences per step"
        )
    total_steps = s.max_steps or phase_steps
    vocab_size = int(manifest["tokenizer"]["vocab_size"])
    if req.init_from is not None and is_hf_model(req.init_from):  # the model's own shape, not a preset
        check_tokenizer(req.init_from, req.output / "tokenizer" / "tokenizer.json", vocab_size)
        config = hf_model_config(
            req.init_from, seq_len=seq_len, activation_checkpointing=s.activation_checkpointing
        )
    else:
        config = preset_config(
            s.model,
            vocab_size=vocab_size,
            seq_len=seq_len,
            tie_embeddings=s.tie_embeddings,
            activation_checkpointing=s.activation_checkpointing,
        )
    cuda = d.device.type == "cuda"
    precision = ("bf16" if cuda else "fp32") if s.precision == "auto" else s.precision
    return Plan(
        reader=reader,
        manifest=manifest,
        model_config=config,
        global_batch=global_batch,
        total_steps=total_steps,
        fingerprint={"blend": reader.blend["fingerprint"], "tokenizer": manifest["tokenizer"]["fingerprint"]},
        precision=precision,
        compile=cuda if s.compile is None else s.compile,
    )


class Terminated(SystemExit):
    """SIGTERM arrived: the run stops like a Ctrl-C (threads joined, files closed) and exits with 143."""


def train(req: TrainRequest, echo: Echo = print) -> dict[str, Any]:
    """Run (or resume, or confirm finished) one phase; return the final checkpoint's state."""
    d = setup(req.device)
    say = echo if d.is_main else (lambda _: None)
    try:
        with _sigterm_raises():
            return _train(req, d, say)
    except Terminated:
        if req.settings.save_checkpoints:
            say(
                f"{req.phase}: stopped by SIGTERM; run the same command again to resume from the newest checkpoint"
            )
        else:
            say(f"{req.phase}: stopped by SIGTERM (save_checkpoints is off: nothing to resume from)")
        raise
    finally:
        teardown()


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Within: SIGTERM (a scheduler's or torchrun's stop) raises `Terminated` in the main thread, so the run
    unwinds through its `finally` blocks instead of dying with the prefetch thread mid-read."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def stop(signum: int, frame: object) -> None:
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _train(req: TrainRequest, d: Dist, say: Echo) -> dict[str, Any]:
    p = plan(req, d)
    s = req.settings
    run_dir = req.out / req.phase
    resume = checkpoint.latest(run_dir)
    if resume is not None:
        state = checkpoint.read_state(resume)
        _check_resumable(state, resume, p, req)
        if resume.name == checkpoint.FINAL:
            say(f"{req.phase}: already finished ({resume}); nothing to do")
            return state
    if d.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        checkpoint.clean(run_dir, keep=s.keep_checkpoints)
        _copy_tokenizer(req.output, run_dir)
    d.barrier()

    torch.manual_seed(req.recipe_seed if s.seed is None else s.seed)
    if d.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    raw = _build_model(p.model_config, d.device)
    from_hf = resume is None and req.init_from is not None and is_hf_model(req.init_from)
    if from_hf:  # weights only, before the model is wrapped; the optimizer and schedule start fresh
        raw.load_state_dict(hf_weights(req.init_from, p.model_config))
    model = _parallelize(raw, s.parallelism, p.precision, d)
    optimizer = _optimizer(model, s, d.device)

    step, consumed, init_state = 0, 0, None
    if resume is not None:
        state = checkpoint.load(resume, model, optimizer, d, restore_rng=state["world"] == d.world)
        step, consumed = state["step"], state["consumed"]
        init_state = state.get("init_state")
        say(f"{req.phase}: resuming from {resume} at step {step} ({consumed:,} samples consumed)")
    elif from_hf:
        say(f"{req.phase}: starting from the Hugging Face model {req.init_from} (weights; a fresh optimizer)")
    elif req.init_from is not None:
        init_state = _check_init(req.init_from, p)
        checkpoint.load(req.init_from, model, optimizer, d, restore_rng=False)
        say(
            f"{req.phase}: starting from {req.init_from} (weights and optimizer moments; step and data reset)"
        )
    _apply_hyperparameters(optimizer, s)  # a loaded optimizer carries the old run's betas and decay

    schedule = make_schedule(s, p.total_steps, init_state)
    if resume is not None and state["schedule"] != {"kind": schedule.kind, "params": dict(schedule.params)}:
        raise TrainError(
            f"{resume}: the LR schedule changed since this run started ({state['schedule']} -> "
            f"{schedule.kind} {dict(schedule.params)}); resume with the same settings, or train into a new --out"
        )
    batches = PhaseBatches(
        p.reader,
        global_batch=p.global_batch,
        micro_batch=s.micro_batch,
        rank=d.rank,
        world=d.world,
        consumed=consumed,
        pin_memory=d.device.type == "cuda",
    )
    validation = load_validation(req.output, list(p.manifest["sources"]), s.eval_tokens)
    missing_bytes = [n for n, v in validation.items() if v.bytes is None]
    if missing_bytes:
        say(
            f"note: no byte counts for {', '.join(missing_bytes)}'s validation set (rebuild); bits per byte omitted"
        )
    compiled, execution = training_execution(
        model,
        compile=p.compile,
        scope=s.compile_scope,
        mode=s.compile_mode,
        loss_chunk_tokens=s.loss_chunk_tokens,
    )
    autocast = (
        torch.autocast(d.device.type, dtype=torch.bfloat16)
        if p.precision == "bf16"
        else contextlib.nullcontext()
    )
    tokens_per_step = p.global_batch * p.reader.seq_len
    flops = flops_per_token(p.model_config, p.reader.seq_len)
    peak = peak_flops(d.device, p.precision, s.peak_tflops)
    base_state = {
        "recipe": req.recipe_name,
        "phase": req.phase,
        "output": str(req.output),
        "fingerprint": p.fingerprint,
        "model_config": dataclasses.asdict(p.model_config),
        "settings": s.model_dump(mode="json"),
        "global_batch": p.global_batch,
        "seq_len": p.reader.seq_len,
        "total_steps": p.total_steps,
        "schedule": {"kind": schedule.kind, "params": dict(schedule.params)},
        "init_from": str(req.init_from) if req.init_from is not None else (init_state or {}).get("path"),
        "init_state": init_state,
    }
    say(
        f"{req.phase}: {s.model} model ({count_parameters(p.model_config, exclude_embeddings=False):,} parameters), "
        f"{p.total_steps:,} steps of {p.global_batch} x {p.reader.seq_len} tokens, {d.world} process(es) on "
        f"{d.device}, {p.precision}{', compiled' if p.compile else ''}; LR {schedule.kind} "
        f"{schedule.lr_at(0):.2e} -> {schedule.lr_at(p.total_steps - 1):.2e}; {_speed_note(p, s)}"
    )
    log = RunLog(run_dir, d.is_main, say)
    with contextlib.ExitStack() as stack:
        # Whatever ends the loop (the last step, an error, Ctrl-C, SIGTERM), these close in reverse order:
        # the profiler writes what it has, the prefetch thread is joined, the metrics file is closed.
        stack.callback(log.close)
        loader = stack.enter_context(Prefetcher(batches, enabled=s.prefetch, device=d.device))
        profiler = StepProfiler(run_dir / "profile", s.profile_at, s.profile_steps, d.device, d.rank, say)
        stack.callback(profiler.close)
        stack.enter_context(attention_backend(s.attention))

        def run_eval() -> dict[str, Any]:
            t0 = time.perf_counter()
            results = evaluate(model, validation, p.reader.seq_len, s.micro_batch, d, autocast)
            log.write("eval", step, {"sources": results, "seconds": time.perf_counter() - t0})
            say(f"{req.phase} step {step}: validation " + _format_eval(results))
            return results

        def save(folder: Path) -> None:
            t0 = time.perf_counter()
            checkpoint.save(folder, model, optimizer, _state(base_state, step, loader, schedule, d), d)
            log.write("checkpoint", step, {"path": str(folder), "seconds": time.perf_counter() - t0})

        if not validation:
            first_eval = None
        elif step == 0:
            first_eval = run_eval()
        else:  # resumed: the step-0 evaluation is in the log of the run's first start
            first_eval = _logged_eval(log.path, 0) if d.is_main else None
        last_eval = first_eval if step == 0 else None
        started = time.perf_counter()
        done_at_start = step
        while step < p.total_steps:
            profiler.before(step + 1)
            t0 = time.perf_counter()
            lr = schedule.lr_at(step)
            data = loader.next_step()
            if d.device.type != "cuda":
                loader.read_ahead()  # the CPU computes in torch's threads, without the interpreter lock
            digest = _digest(data.crcs, d)
            on_device = [_to_device(mb.tokens, d.device) for mb in data.batches]
            t_data = time.perf_counter() - t0
            loss_value, gnorm = _train_step(
                compiled,
                model,
                optimizer,
                on_device,
                lr,
                s.grad_clip,
                execution,
                autocast,
                d,
                before_sync=loader.read_ahead,
            )
            step += 1
            dt = time.perf_counter() - t0
            profiler.after(step)
            tokens_per_s = tokens_per_step / dt
            record = {
                "loss": loss_value,
                "lr": lr,
                "grad_norm": gnorm,
                "tokens_per_s": tokens_per_s,
                "step_s": dt,
                "data_share": t_data / dt,
                "samples": [data.consumed - p.global_batch, data.consumed],
                "digest": digest,
            }
            if peak is not None:
                record["mfu"] = flops * tokens_per_s / (peak * d.world)
            if d.device.type == "cuda":
                record["max_memory_gib"] = torch.cuda.max_memory_allocated(d.device) / 2**30
            if profiler.active(step):
                record["profiled"] = True
            log.write("step", step, record)
            if step % s.log_interval == 0 or step == p.total_steps:
                say(_progress(req.phase, step, p.total_steps, record, started, step - done_at_start))
            if validation and (step % s.eval_interval == 0 or step == p.total_steps):
                last_eval = run_eval()
            if s.save_checkpoints and step % s.checkpoint_interval == 0 and step < p.total_steps:
                save(run_dir / checkpoint.step_name(step))
                if d.is_main:
                    checkpoint.clean(run_dir, keep=s.keep_checkpoints)
        final_state = _state(base_state, step, loader, schedule, d)
        if s.save_checkpoints:
            save(run_dir / checkpoint.FINAL)
            if d.is_main:
                checkpoint.clean(run_dir, keep=0)  # the phase is done: final/ is the checkpoint that matters
    if first_eval is not None and last_eval is not None:
        say(_before_after(req.phase, first_eval, last_eval))
    if s.save_checkpoints:
        say(f"{req.phase}: done, {step} steps; checkpoint {run_dir / checkpoint.FINAL}")
    else:
        say(f"{req.phase}: done, {step} steps; no checkpoint written (save_checkpoints is off)")
    return final_state


def _train_step(
    compiled: nn.Module,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    micro: list[torch.Tensor],
    lr: float,
    grad_clip: float,
    execution: Execution,
    autocast: contextlib.AbstractContextManager,
    d: Dist,
    before_sync: Callable[[], None] = lambda: None,
) -> tuple[float, float]:
    """One optimizer step over the micro-batches `micro` (token rows on the device); (mean loss, grad norm).

    `before_sync` runs once the step's work is queued, before the first wait for the device: on a GPU the
    next step's data is read then (mixer/trainer/prefetch.py says why).
    """
    ddp = isinstance(model, nn.parallel.DistributedDataParallel)
    fsdp = hasattr(model, "set_requires_gradient_sync")
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss_sum = torch.zeros((), device=d.device)
    for i, tokens in enumerate(micro):
        last = i == len(micro) - 1
        if fsdp:
            model.set_requires_gradient_sync(last)
        sync = model.no_sync() if ddp and not last else contextlib.nullcontext()
        inputs, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
        with sync, autocast:
            _, loss = compiled(inputs, targets, execution=execution)
        (loss / len(micro)).backward()
        loss_sum += loss.detach()
    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip > 0 else math.inf)
    if hasattr(gnorm, "full_tensor"):
        gnorm = gnorm.full_tensor()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    before_sync()
    loss_value = float(d.mean(loss_sum / len(micro)))
    if d.device.type == "cuda":
        torch.cuda.synchronize()
    return loss_value, float(gnorm)


def _to_device(tokens: torch.Tensor, device: torch.device) -> torch.Tensor:
    # From page-locked memory (CUDA) the copy is asynchronous: it overlaps whatever the GPU still runs.
    return tokens.to(device, non_blocking=True)


def _speed_note(p: Plan, s: TrainSettings) -> str:
    parts = [f"attention {s.attention}"]
    if p.compile:
        parts.append(
            f"compile {s.compile_scope}" + ("" if s.compile_mode == "default" else f" {s.compile_mode}")
        )
    parts.append(f"loss chunks of {s.loss_chunk_tokens}" if s.loss_chunk_tokens else "full logits")
    parts.append("prefetch on" if s.prefetch else "prefetch off")
    if s.activation_checkpointing:
        parts.append("activation checkpointing")
    return ", ".join(parts)


def make_schedule(s: TrainSettings, total_steps: int, init_state: dict[str, Any] | None) -> Schedule:
    """The LR schedule of a run from its settings (and the checkpoint it starts from, for a cooldown)."""
    kind = s.schedule or ("linear_decay" if init_state is not None else "warmup_cosine")
    if kind == "linear_decay":
        if s.start_lr == "init" and init_state is not None:
            start = float(init_state["last_lr"])
        else:
            start = s.lr if s.start_lr == "init" else float(s.start_lr)
        end = 0.0 if s.min_lr is None else s.min_lr
        params: dict[str, float] = {"start_lr": start, "end_lr": min(end, start), "total_steps": total_steps}
    else:
        warmup = s.warmup_steps if s.warmup_steps is not None else max(1, total_steps // 100)
        warmup = min(warmup, total_steps - 1)
        params = {
            "max_lr": s.lr,
            "min_lr": s.lr / 10 if s.min_lr is None else s.min_lr,
            "warmup_steps": warmup,
            "total_steps": total_steps,
        }
        if kind == "warmup_stable_decay":
            params["decay_fraction"] = s.decay_fraction
    try:
        return Schedule(kind, params)
    except ValueError as e:
        raise TrainError(f"train: {e}") from None


def _state(
    base: dict[str, Any], step: int, loader: Prefetcher, schedule: Schedule, d: Dist
) -> dict[str, Any]:
    return {
        **base,
        "step": step,
        "consumed": loader.consumed,  # of the steps trained, not of those read ahead
        "last_lr": schedule.lr_at(max(step - 1, 0)),
        "world": d.world,
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _check_resumable(state: dict[str, Any], folder: Path, p: Plan, req: TrainRequest) -> None:
    if state["fingerprint"] != p.fingerprint:
        raise TrainError(
            f"{folder} was trained on other shards (blend {state['fingerprint']['blend']}, tokenizer "
            f"{state['fingerprint']['tokenizer'][:19]}) than {req.output} now holds for phase '{req.phase}' "
            f"(blend {p.fingerprint['blend']}, tokenizer {p.fingerprint['tokenizer'][:19]}); resuming would "
            "mix data orders. Train into a new --out, or rebuild the shards the run started on"
        )
    changed = [
        key
        for key, old, new in (
            ("model", state["model_config"], dataclasses.asdict(p.model_config)),
            ("global batch", state["global_batch"], p.global_batch),
            ("steps", state["total_steps"], p.total_steps),
        )
        if old != new
    ]
    if changed:
        raise TrainError(
            f"{folder}: the settings changed since this run started ({', '.join(changed)}); resume with the "
            "same settings, or train into a new --out"
        )


def _check_init(folder: Path, p: Plan) -> dict[str, Any]:
    try:
        state = checkpoint.read_state(folder)
    except FileNotFoundError as e:
        raise TrainError(f"--init-from {e}") from None
    if state["fingerprint"]["tokenizer"] != p.fingerprint["tokenizer"]:
        raise TrainError(
            f"--init-from {folder} was trained with another tokenizer ({state['fingerprint']['tokenizer'][:19]}) "
            f"than this build's ({p.fingerprint['tokenizer'][:19]}); its embeddings would not mean these ids"
        )
    if state["model_config"] != dataclasses.asdict(p.model_config):
        theirs = state["settings"]["model"]
        raise TrainError(
            f"--init-from {folder} holds a different model ({theirs}, {state['model_config']}) than this phase's "
            f"train settings ask for; set train.model (and tie_embeddings, activation_checkpointing) to match"
        )
    return {"path": str(folder), "last_lr": state["last_lr"], "step": state["step"], "phase": state["phase"]}


def _build_model(config: ModelConfig, device: torch.device) -> GPT:
    with torch.device("meta"):
        model = GPT(config)
    model.to_empty(device=device)
    model.init_weights()
    return model


def _parallelize(model: GPT, parallelism: str, precision: str, d: Dist) -> nn.Module:
    if d.world == 1:
        return model
    if parallelism == "fsdp":
        from torch.distributed.fsdp import fully_shard

        policy = fsdp_mixed_precision(precision)
        for block in model.blocks:
            fully_shard(block, mp_policy=policy)
        return fully_shard(model, mp_policy=policy)
    device_ids = [d.device.index] if d.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def _optimizer(model: nn.Module, s: TrainSettings, device: torch.device) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (not norms), fused kernels on GPU."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": s.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        groups, lr=s.lr, betas=(s.beta1, s.beta2), eps=s.eps, fused=use_fused_adamw(device)
    )


def use_fused_adamw(device: torch.device) -> bool:
    """Fused AdamW (one kernel for all parameters) exists for CUDA tensors only; elsewhere the default."""
    return device.type == "cuda"


def fsdp_mixed_precision(precision: str) -> MixedPrecisionPolicy:
    """FSDP2's policy: under bf16, gather parameters and compute in bf16 but reduce gradients in fp32 (the
    sharded master weights and optimizer state stay fp32); otherwise everything in the parameters' fp32."""
    if precision == "bf16":
        return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    return MixedPrecisionPolicy()


def _apply_hyperparameters(optimizer: torch.optim.Optimizer, s: TrainSettings) -> None:
    for group, decay in zip(optimizer.param_groups, (s.weight_decay, 0.0), strict=True):
        group.update(betas=(s.beta1, s.beta2), eps=s.eps, weight_decay=decay)


def _digest(crcs: torch.Tensor, d: Dist) -> str:
    """A digest of the global batch's samples in order, from the CRC of each of this rank's samples: equal
    across process counts iff the data order is."""
    gathered = d.gather(crcs.to(d.device)).cpu() if d.distributed else crcs
    return hashlib.sha256(gathered.numpy().tobytes()).hexdigest()[:16]


def _logged_eval(metrics: Path, step: int) -> dict[str, Any] | None:
    """The per-source results of the evaluation logged at `step`, or None (no log, or none at that step)."""
    if not metrics.is_file():
        return None
    for record in read_metrics(metrics):
        if record["event"] == "eval" and record["step"] == step:
            return record["sources"]
    return None


def _copy_tokenizer(output: Path, run_dir: Path) -> None:
    src = Path(output) / "tokenizer"
    dst = run_dir / "tokenizer"
    dst.mkdir(exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)


def _format_eval(results: dict[str, dict[str, Any]]) -> str:
    parts = []
    for source, r in results.items():
        bpb = f" ({r['bpb']:.3f} bpb)" if r["bpb"] is not None else ""
        parts.append(f"{source} {r['loss']:.3f}{bpb}")
    return ", ".join(parts)


def _before_after(phase: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    lines = [
        f"{phase}: validation loss per source (nats/token; bits/byte)",
        f"  {'source':<12} {'before':>16} {'after':>16}",
    ]
    for source in before:
        b, a = before[source], after[source]

        def cell(r: dict[str, Any]) -> str:
            return f"{r['loss']:.3f}" + (f"; {r['bpb']:.3f}" if r["bpb"] is not None else "")

        lines.append(f"  {source:<12} {cell(b):>16} {cell(a):>16}")
    return "\n".join(lines)


def _progress(phase: str, step: int, total: int, r: dict[str, Any], started: float, steps_run: int) -> str:
    elapsed = time.perf_counter() - started
    eta = elapsed / max(steps_run, 1) * (total - step)
    mfu = f" | MFU {r['mfu']:.1%}" if "mfu" in r else ""
    memory = f" | mem {r['max_memory_gib']:.1f} GiB" if "max_memory_gib" in r else ""
    return (
        f"{phase} step {step}/{total} | loss {r['loss']:.4f} | lr {r['lr']:.2e} | gnorm {r['grad_norm']:.2f} | "
        f"{r['tokens_per_s']:,.0f} tok/s{mfu} | data {r['data_share']:.1%}{memory} | eta {_duration(eta)}"
    )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"
