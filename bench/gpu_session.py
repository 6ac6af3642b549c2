"""Helpers of `bench/gpu_session.sh`: the machine's description, the `--device cuda` check, a comparison of
the attention kernels at the presets' shapes, the medians of a run stopped early, and the session's summary.

Every helper appends its result as one JSON line to the session's summary file (bench.train's runs append
theirs there too); `summary` prints them as one table and writes them out as one JSON document.

    python -m bench.gpu_session info --summary S.jsonl
    python -m bench.gpu_session device-check --summary S.jsonl --expect cuda:0 -- python -m mixer.cli train ...
    python -m bench.gpu_session attention --summary S.jsonl --device cuda --choice-file /tmp/attention
    python -m bench.gpu_session partial --summary S.jsonl --metrics RUN/pretrain/metrics.jsonl --label 470m ...
    python -m bench.gpu_session summary --summary S.jsonl --json summary.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def append(summary: Path, record: dict[str, Any]) -> None:
    with summary.open("a") as f:
        f.write(json.dumps(record) + "\n")


def info(args: argparse.Namespace) -> int:
    import torch

    record: dict[str, Any] = {
        "kind": "info",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cpus": os.cpu_count(),
        "cuda_available": torch.cuda.is_available(),
    }
    try:
        import triton

        record["triton"] = triton.__version__
    except ImportError:
        record["triton"] = None
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        record.update(
            device=torch.cuda.get_device_name(0),
            capability=f"{p.major}.{p.minor}",
            memory_gib=round(p.total_memory / 2**30, 1),
            multiprocessors=p.multi_processor_count,
            devices=torch.cuda.device_count(),
        )
    for key, value in record.items():
        print(f"{key:>16}: {value}")
    append(args.summary, record)
    return 0


def device_check(args: argparse.Namespace) -> int:
    """Run a `mixer train --device ...` command; pass when it exits 0 and says it trained on `--expect`."""
    t0 = time.perf_counter()
    proc = subprocess.run(args.command, capture_output=True, text=True)
    print(proc.stdout, end="")
    print(proc.stderr, end="", file=sys.stderr)
    said = f"process(es) on {args.expect}," in proc.stdout
    ok = proc.returncode == 0 and said
    append(
        args.summary,
        {
            "kind": "device-check",
            "command": " ".join(args.command),
            "returncode": proc.returncode,
            "trained_on": args.expect if said else None,
            "passed": ok,
            "seconds": time.perf_counter() - t0,
            "error": None if ok else (proc.stderr.strip().splitlines() or ["(no message)"])[-1][-300:],
        },
    )
    print(f"device check: {'passed' if ok else 'FAILED'} (exit {proc.returncode}, on {args.expect}: {said})")
    return 0 if ok else 1


def attention(args: argparse.Namespace) -> int:
    """Time causal SDPA forward + backward per backend at the presets' shapes; write the fastest backend whose
    results match the flash kernel's (or `auto`) to --choice-file."""
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    backends = {
        "flash": SDPBackend.FLASH_ATTENTION,
        "cudnn": SDPBackend.CUDNN_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
    }
    if device.type == "cpu":
        backends["math"] = SDPBackend.MATH
    results: dict[str, dict[str, Any]] = {name: {"ms": {}, "error": None} for name in backends}
    for heads in args.heads:
        shape = (args.batch, heads, args.seq_len, args.head_dim)
        g = torch.Generator(device=device).manual_seed(0)
        q, k, v, dy = (torch.randn(shape, device=device, dtype=dtype, generator=g) for _ in range(4))
        reference = None
        for name, backend in backends.items():
            if results[name]["error"]:
                continue
            try:
                out, grads, ms = _time_sdpa(F, sdpa_kernel, backend, q, k, v, dy, args.iterations)
            except Exception as e:  # a backend that cannot run this shape or device
                results[name]["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
                continue
            if reference is None:
                reference = (out, grads)
            diff = max(
                float((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1e-6))
                for a, b in zip((out, *grads), (reference[0], *reference[1]), strict=True)
            )
            results[name]["ms"][heads] = ms
            results[name].setdefault("max_rel_diff", 0.0)
            results[name]["max_rel_diff"] = max(results[name]["max_rel_diff"], diff)
    # causal forward: QK^T and AV over the lower triangle, 2 * 2 * B * H * T^2 * d / 2; backward 2.5 times that
    rows = []
    for name, r in results.items():
        if r["error"]:
            rows.append(f"{name:>10}: unavailable ({r['error']})")
            continue
        cells = []
        for heads, ms in r["ms"].items():
            flops = 3.5 * 2 * args.batch * heads * args.seq_len**2 * args.head_dim
            cells.append(f"H={heads}: {ms:.2f} ms ({flops / ms / 1e9:.0f} TFLOP/s)")
        rows.append(f"{name:>10}: " + ", ".join(cells) + f"; max rel diff {r['max_rel_diff']:.1e}")
    print(
        f"causal SDPA forward + backward, B={args.batch} T={args.seq_len} head dim {args.head_dim}, {dtype}, "
        f"median of {args.iterations}:"
    )
    print("\n".join(rows))
    usable = {
        n: sum(r["ms"].values())
        for n, r in results.items()
        if not r["error"] and r["ms"] and r.get("max_rel_diff", 1.0) < 2e-2
    }
    choice = min(usable, key=usable.get) if usable else "auto"
    print(f"attention backend chosen: {choice}")
    if args.choice_file:
        args.choice_file.write_text(choice + "\n")
    append(args.summary, {"kind": "attention", "choice": choice, "backends": results})
    return 0


def _time_sdpa(F, sdpa_kernel, backend, q, k, v, dy, iterations: int):
    import torch

    cuda = q.device.type == "cuda"
    times = []
    for i in range(iterations + 2):  # two warm-up rounds
        qq, kk, vv = (t.detach().requires_grad_() for t in (q, k, v))
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with sdpa_kernel([backend]):
            out = F.scaled_dot_product_attention(qq, kk, vv, is_causal=True)
        out.backward(dy)
        if cuda:
            torch.cuda.synchronize()
        if i >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
    return out.detach(), (qq.grad, kk.grad, vv.grad), statistics.median(times)


def partial(args: argparse.Namespace) -> int:
    """The medians of the steps a run logged before it was stopped (timed out or failed), if any."""
    from bench.train import summarize
    from mixer.trainer.logs import read_metrics

    if not args.metrics.is_file():
        print(f"{args.label}: no metrics logged")
        return 0
    records = read_metrics(args.metrics)
    logged = sum(r["event"] == "step" for r in records)
    warmup = min(args.warmup, max(logged - 2, 0))  # keep at least two steps where there are
    try:
        run = summarize(records, args.model, warmup)
    except SystemExit:
        print(f"{args.label}: no step logged")
        return 0
    run.update(kind="run", label=f"{args.label} (stopped)", partial=True, settings=[])
    append(args.summary, run)
    print(f"{args.label}: {run['measured_steps']} of {logged} logged steps summarized")
    return 0


def summary(args: argparse.Namespace) -> int:
    records = []
    if args.summary.is_file():
        records = [json.loads(line) for line in args.summary.read_text().splitlines() if line.strip()]
    runs = [r for r in records if r.get("kind") == "run"]
    print("\n==== GPU session summary ====")
    for r in records:
        kind = r.get("kind")
        if kind == "info":
            print(
                f"machine: {r.get('device', 'no GPU')} ({r.get('memory_gib', '-')} GiB), torch {r['torch']}, "
                f"CUDA {r['cuda']}, cuDNN {r['cudnn']}, Python {r['python']}, {r['cpus']} CPUs"
            )
        elif kind == "device-check":
            print(
                f"mixer train --device check: {'passed' if r['passed'] else 'FAILED'} "
                f"(exit {r['returncode']}, trained on {r['trained_on']}){'' if r['passed'] else ': ' + str(r['error'])}"
            )
        elif kind == "attention":
            print(f"attention backend used by the tuned runs: {r['choice']}")
        elif kind == "step" and r.get("status") != "ok":
            print(f"step {r['name']}: {r['status']} ({r.get('detail', '')})")
    if runs:
        header = [
            "run",
            "tokens/s",
            "MFU",
            "step s",
            "data",
            "peak GiB",
            "step 1 s",
            "steps",
            "loss first→last",
        ]
        rows = [
            [
                r["label"],
                f"{r['tokens_per_s']:,.0f}",
                f"{r['mfu']:.1%}" if r.get("mfu") is not None else "-",
                f"{r['step_s']:.3f}",
                f"{r['data_share']:.2%}",
                f"{r['max_memory_gib']:.1f}" if r.get("max_memory_gib") else "-",
                f"{r['first_step_s']:.0f}",
                f"{r['measured_steps']}/{r['steps']}",
                f"{r['loss'][0]:.2f}→{r['loss'][1]:.2f}",
            ]
            for r in runs
        ]
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        for r in runs:
            if "eval_s" in r:
                print(
                    f"{r['label']}: validation pass {r['eval_s']:.2f} s = {r['eval_share']:.2%} of training at "
                    f"eval_interval {r['eval_interval']}"
                )
            if "checkpoint_s" in r:
                print(
                    f"{r['label']}: checkpoint save {r['checkpoint_s']:.2f} s = {r['checkpoint_share']:.2%} of "
                    f"training at checkpoint_interval {r['checkpoint_interval']}"
                )
            if "profile" in r:
                step_ms = r["profile"]["step_s"] * 1e3
                key = (
                    "self_device_ms"
                    if any(t["self_device_ms"] for t in r["profile"]["top"])
                    else "self_cpu_ms"
                )
                print(f"{r['label']}: top 8 of one profiled step ({step_ms:,.0f} ms), by {key}:")
                for t in r["profile"]["top"][:8]:
                    print(
                        f"    {t[key] / step_ms:6.1%}  {t[key]:9.1f} ms  {t['calls']:6d}x  {t['name'][:100]}"
                    )
    if args.json:
        args.json.write_text(json.dumps(records, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command_name", required=True)
    p = sub.add_parser("info")
    p.add_argument("--summary", type=Path, required=True)
    p.set_defaults(run=info)
    p = sub.add_parser("device-check")
    p.add_argument("--summary", type=Path, required=True)
    p.add_argument("--expect", required=True, help="The device the run must report, e.g. cuda:0.")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(run=device_check)
    p = sub.add_parser("attention")
    p.add_argument("--summary", type=Path, required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--heads", type=lambda s: [int(x) for x in s.split(",")], default=[12, 16])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--choice-file", type=Path)
    p.set_defaults(run=attention)
    p = sub.add_parser("partial")
    p.add_argument("--summary", type=Path, required=True)
    p.add_argument("--metrics", type=Path, required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--warmup", type=int, default=5)
    p.set_defaults(run=partial)
    p = sub.add_parser("summary")
    p.add_argument("--summary", type=Path, required=True)
    p.add_argument("--json", type=Path)
    p.set_defaults(run=summary)
    args = parser.parse_args(argv)
    if getattr(args, "command", None) and args.command[0] == "--":
        args.command = args.command[1:]
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
