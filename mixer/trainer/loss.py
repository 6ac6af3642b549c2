"""Cross-entropy over the vocabulary without ever holding the full logits: the output head and the loss in
chunks of positions, with their gradients computed in the forward.

The plain path (`GPT.forward` with `loss_chunk_tokens=0`) computes the logits of every position, B·T × V —
for a micro batch of 16 × 2048 and a 32,768-token vocabulary that is 1.1 billion numbers, 2 GB in bf16 and
4 GB more once upcast to fp32 for the softmax — and autograd keeps them for the backward. Here the head
matmul, the fp32 log-softmax and the gradient of the loss with respect to the logits run one chunk of
positions at a time: a chunk's logits exist only inside its own step. The forward keeps the two gradients
the backward needs (for the head's input, B·T × d, and for its weight, V × d) and the backward only scales
them by the incoming gradient. The FLOPs are the plain path's exactly (2·V·d per position in the forward,
4·V·d in the backward): nothing is recomputed.

The numerics follow the plain path step by step: logits in the compute (autocast) dtype, softmax and loss in
fp32, the logits' gradient rounded to the compute dtype before the two gradient matmuls. Only the order of
summation differs (the loss summed chunk by chunk, the weight's gradient accumulated over chunks in fp32),
a float-rounding difference that tests/trainer/test_loss.py bounds.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

ChunkFn = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]
]


def cross_entropy_chunk(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, row_weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One chunk of `sum_i row_weights[i] * CE(hidden[i] @ weight.T, targets[i])` and its gradients.

    `hidden` (n, d) and `weight` (V, d) in the compute dtype, `targets` (n,) int64, `row_weights` (n,) fp32.
    Returns the weighted loss sum (fp32 scalar), the gradient for `hidden` (n, d) and for `weight` (V, d),
    both in the compute dtype. Pure tensor code, so training compiles it into a few fused kernels.
    """
    logits = (hidden @ weight.t()).float()
    lse = torch.logsumexp(logits, dim=-1)
    picked = logits.gather(1, targets[:, None]).squeeze(1)
    loss = ((lse - picked) * row_weights).sum()
    # d CE / d logits = softmax - one_hot(target), times the row's weight. The one-hot as a comparison with
    # the column index keeps this elementwise: compiled, one kernel reads the logits and writes the gradient.
    is_target = torch.arange(logits.shape[1], device=logits.device) == targets[:, None]
    grad = ((torch.exp(logits - lse[:, None]) - is_target.float()) * row_weights[:, None]).to(hidden.dtype)
    return loss, grad @ weight, grad.t() @ hidden


def _chunk_loss(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, row_weights: torch.Tensor
) -> torch.Tensor:
    """`cross_entropy_chunk`'s loss alone, for a forward without gradients."""
    logits = (hidden @ weight.t()).float()
    picked = logits.gather(1, targets[:, None]).squeeze(1)
    return ((torch.logsumexp(logits, dim=-1) - picked) * row_weights).sum()


class _ChunkedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        targets: torch.Tensor,
        row_weights: torch.Tensor,
        vocab_size: int,
        chunk_tokens: int,
        compute_dtype: torch.dtype,
        chunk_fn: ChunkFn,
    ) -> torch.Tensor:
        h = hidden.to(compute_dtype)
        w = weight[:vocab_size].to(compute_dtype)  # the padded vocabulary rows are not tokens
        loss = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        for start in range(0, h.shape[0], chunk_tokens):
            rows = slice(start, start + chunk_tokens)
            part, g_hidden, g_weight = chunk_fn(h[rows], w, targets[rows], row_weights[rows])
            loss += part
            grad_hidden[rows] = g_hidden
            grad_weight[:vocab_size] += g_weight
        ctx.save_for_backward(grad_hidden, grad_weight.to(weight.dtype))
        return loss

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        grad_hidden, grad_weight = ctx.saved_tensors
        return grad_hidden * grad_output, grad_weight * grad_output, None, None, None, None, None, None


@torch.compiler.disable  # a whole-model compile runs this eagerly; its chunk function is compiled on its own
def chunked_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    *,
    vocab_size: int,
    chunk_tokens: int,
    loss_mask: torch.Tensor | None = None,
    chunk_fn: ChunkFn = cross_entropy_chunk,
) -> torch.Tensor:
    """The mean cross-entropy of `hidden` (N, d) through the head `weight` (V_padded, d) against `targets`
    (N,), over the positions where `loss_mask` (N,) is 1 (all when None; 0 when none counts) — the value
    `F.cross_entropy` of the full logits would give, computed `chunk_tokens` positions at a time."""
    if chunk_tokens < 1:
        raise ValueError(f"chunk_tokens must be a positive number of positions, got {chunk_tokens}")
    device_type = hidden.device.type
    if torch.is_autocast_enabled(device_type):
        compute_dtype = torch.get_autocast_dtype(device_type)
    else:
        compute_dtype = torch.promote_types(hidden.dtype, weight.dtype)
    if loss_mask is None:
        row_weights = torch.full(targets.shape, 1.0 / targets.numel(), device=hidden.device)
    else:
        mask = loss_mask.to(device=hidden.device, dtype=torch.float32)
        row_weights = mask / mask.sum().clamp_min(1.0)
    targets = targets.long()
    if not (torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad)):
        with torch.autocast(device_type, enabled=False):
            h, w = hidden.to(compute_dtype), weight[:vocab_size].to(compute_dtype)
            loss = torch.zeros((), dtype=torch.float32, device=hidden.device)
            for start in range(0, h.shape[0], chunk_tokens):
                rows = slice(start, start + chunk_tokens)
                loss += _chunk_loss(h[rows], w, targets[rows], row_weights[rows])
            return loss
    with torch.autocast(device_type, enabled=False):  # the dtypes above are explicit
        return _ChunkedCrossEntropy.apply(
            hidden, weight, targets, row_weights, vocab_size, chunk_tokens, compute_dtype, chunk_fn
        )
