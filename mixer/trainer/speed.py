"""How a training step runs fast without changing what it computes: what `torch.compile` compiles, which
scaled-dot-product-attention kernel runs, and where the loss's logits live.

- `compile_scope: blocks` (the default) compiles one transformer block, the final norm and one chunk of the
  loss, each on its own. Every block has the same code and shapes, so the block is compiled once and reused
  by all of them: compile time no longer grows with depth (a 24-layer model compiles as fast as a 2-layer
  one) and activation checkpointing is compiled into the block. `model` compiles the whole forward as one
  graph, as earlier versions did.
- `attention` puts one SDPA backend first (`cudnn`, `flash`, `efficient`, `math`); the others stay enabled
  as fallbacks for shapes it cannot run. `auto` leaves torch's own order.
- `loss_chunk_tokens` (mixer/trainer/loss.py) computes the head and the loss in chunks of positions,
  never holding the full fp32 logits.

Evaluation and export always run the eager model (`Execution()`): their shapes vary, and a second graph
without gradients would only add compile time.
"""

from __future__ import annotations

import contextlib
import inspect

import torch
from torch import nn

from mixer.trainer.loss import cross_entropy_chunk
from mixer.trainer.model import Execution, run_block, run_norm

COMPILE_SCOPES = ("blocks", "model")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
ATTENTION_BACKENDS = ("auto", "cudnn", "flash", "efficient", "math")


def training_execution(
    model: nn.Module, *, compile: bool, scope: str, mode: str, loss_chunk_tokens: int
) -> tuple[nn.Module, Execution]:
    """The module to call in a training step and the `Execution` to pass it: `module(x, y, execution=...)`.

    The module stays the (DDP- or FSDP-wrapped) model itself except under `compile_scope: model`, where it
    is `torch.compile(model)`.
    """
    if not compile:
        return model, Execution(loss_chunk_tokens=loss_chunk_tokens)
    compile_mode = None if mode == "default" else mode
    # One chunk of the loss: fixed shapes (the last chunk of a batch may be shorter: a second graph at most).
    chunk = torch.compile(cross_entropy_chunk, mode=compile_mode, dynamic=False)
    if scope == "model":
        return torch.compile(model, mode=compile_mode), Execution(
            loss_chunk_tokens=loss_chunk_tokens, loss_chunk=chunk
        )
    return model, Execution(
        block=torch.compile(run_block, mode=compile_mode),
        norm=torch.compile(run_norm, mode=compile_mode),
        loss_chunk_tokens=loss_chunk_tokens,
        loss_chunk=chunk,
    )


def attention_backend(name: str) -> contextlib.AbstractContextManager:
    """A context in which SDPA tries backend `name` first (`auto`: torch's own order, unchanged)."""
    if name == "auto":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backends = {
        "cudnn": SDPBackend.CUDNN_ATTENTION,
        "flash": SDPBackend.FLASH_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "math": SDPBackend.MATH,
    }
    if name not in backends:
        raise ValueError(f"unknown attention backend {name!r}; choose one of {', '.join(ATTENTION_BACKENDS)}")
    first = backends[name]
    if "set_priority" in inspect.signature(sdpa_kernel).parameters:
        order = [first, *(b for b in backends.values() if b != first)]
        return sdpa_kernel(order, set_priority=True)
    return sdpa_kernel([first, SDPBackend.MATH])  # an older torch: this backend, else the reference kernel
