"""A decoder-only transformer in one file, nanoGPT-style, built from a `ModelConfig`.

Shape of the network (Llama-style, no biases anywhere):

    token embedding
    n_layers x [ x + Attention(RMSNorm(x)) ; x + SwiGLU(RMSNorm(x)) ]   (pre-norm residual blocks)
    RMSNorm -> linear head -> logits over the padded vocabulary, sliced to the real one

Attention is causal self-attention with rotary position embeddings (RoPE) on queries and keys, computed by
`F.scaled_dot_product_attention(is_causal=True)` so that CUDA runs flash kernels; grouped-query attention
(fewer key/value heads than query heads) is one config field away.

How the forward runs is an `Execution` passed to it, never part of the model: eager or compiled block by
block (mixer/trainer/speed.py), the loss over the full logits or in chunks of positions that never hold them
(mixer/trainer/loss.py). Every execution computes the same loss and gradients up to float rounding.

Presets, `PRESETS[name](vocab_size, seq_len)`, sized like the 470M and 2.8B decoder-only models of "To Code or
Not to Code" (Aryabumi et al. 2024) with standard shapes (head dim 64 or 80, MLP hidden 8/3 d rounded up to a
multiple of 256). Exact parameter counts for a 50,304-token vocabulary (already a multiple of 128, so the
padded vocabulary is the same), checked by tests/trainer/test_model.py:

    preset  d_model  layers  heads  MLP hidden  params, untied    params, tied  non-embedding N  FLOPs/token, T=2048
    tiny         64       2      4         256       6,570,304       3,350,848        3,350,848           23,250,816
    125m        768      12     12       2,048     162,220,800     123,587,328      123,587,328          968,016,384
    470m      1,024      24     16       2,816     411,354,112     359,842,816      359,842,816        2,763,036,672
    2.8b      2,560      32     32       6,912   2,795,276,800   2,666,498,560    2,666,498,560       18,012,257,280

The presets untie the embeddings (`tie_embeddings=False`); set it to True for the "tied" column, which
equals N: tying removes exactly the input table, the one matrix N leaves out.
Model names follow the paper's sizes; with this vocabulary the 470m shape (Pythia-410M's) holds 411M parameters.

Counting convention (PaLM appendix B, as in nanoGPT's MFU estimate):

- N, the "non-embedding" parameters, is every parameter except the input embedding table. The table is a
  lookup and costs no FLOPs; the output head is a (d x V) matmul on every token, so it is counted, whether or
  not it shares its weight with the input table. N is therefore the same for tied and untied models.
- `flops_per_token(config, T) = 6 N + 12 L d T`: 6 N for the forward (2 N) and backward (4 N) matmuls through
  the weights, 12 L d T for the attention scores and their weighted sum (QK^T and AV, forward and backward) at
  sequence length T. Like PaLM it counts the full T x T score matrix although causal kernels skip the masked
  half, so MFU figures stay comparable with published ones.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from mixer.trainer.loss import ChunkFn, chunked_cross_entropy, cross_entropy_chunk


@dataclass
class ModelConfig:
    """Everything needed to rebuild the model; checkpoints store it as `dataclasses.asdict(config)`."""

    vocab_size: int  # the tokenizer's vocabulary; ids >= vocab_size never occur
    seq_len: int  # the longest sequence the model accepts (length of the rotary tables)
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int | None = None  # None: one key/value head per query head; fewer: grouped-query attention
    mlp_hidden: int | None = None  # None: 8/3 d_model rounded up to a multiple of mlp_multiple_of
    mlp_multiple_of: int = 256
    vocab_multiple_of: int = 128
    tie_embeddings: bool = False  # share one matrix between the input embedding and the output head
    rope_theta: float = 10_000.0
    norm_eps: float = 1e-5
    activation_checkpointing: bool = False  # recompute each block in the backward instead of storing it

    def __post_init__(self) -> None:
        sizes = "vocab_size seq_len d_model n_layers n_heads mlp_multiple_of vocab_multiple_of".split()
        for name in sizes:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"ModelConfig.d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads}); "
                "pick n_heads so that d_model / n_heads is the head size (usually 64 or 128)"
            )
        if self.head_dim % 2:
            raise ValueError(
                f"ModelConfig head size d_model / n_heads = {self.head_dim} must be even: rotary embeddings "
                "rotate pairs of dimensions"
            )
        if self.n_kv_heads is not None and (self.n_kv_heads < 1 or self.n_heads % self.n_kv_heads):
            raise ValueError(
                f"ModelConfig.n_kv_heads ({self.n_kv_heads}) must divide n_heads ({self.n_heads}): each key/value "
                "head serves an equal group of query heads"
            )
        if self.mlp_hidden is not None and self.mlp_hidden < 1:
            raise ValueError(
                f"ModelConfig.mlp_hidden must be a positive integer or None, got {self.mlp_hidden}"
            )
        if self.rope_theta <= 0 or self.norm_eps <= 0:
            raise ValueError(
                f"ModelConfig.rope_theta ({self.rope_theta}) and norm_eps ({self.norm_eps}) must be positive"
            )

    @property
    def padded_vocab_size(self) -> int:
        # Round the embedding and head up to a multiple of 128: GPU matmul kernels tile the output dimension in
        # blocks of 64-128 and an odd size (GPT-2's 50,257) leaves a slow ragged tail on the largest matmul of a
        # small model; nanoGPT got ~25% more throughput from 50,257 -> 50,304. The extra rows are never targets
        # and are sliced off before the loss, so they cost only memory.
        return -(-self.vocab_size // self.vocab_multiple_of) * self.vocab_multiple_of

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def hidden_size(self) -> int:
        """The SwiGLU hidden width: 8/3 d keeps its three matrices at the parameter count of a 4d two-matrix MLP."""
        if self.mlp_hidden is not None:
            return self.mlp_hidden
        m = self.mlp_multiple_of
        return -(-int(8 * self.d_model / 3) // m) * m


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.promote_types(x.dtype, torch.float32))


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight, in (at least) float32: a mean of squares in bfloat16 loses too much."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = _at_least_float32(x)
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return normed.type_as(x) * self.weight


def rotary_tables(
    head_dim: int, seq_len: int, theta: float, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angle pos / theta^(2i / head_dim), each of shape (seq_len, head_dim / 2)."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32, device=device), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate dimension pairs (i, i + head_dim/2) of x (B, H, T, head_dim) by each position's angles.

    After rotation, the dot product of a query at position m and a key at position n depends on m - n only:
    attention sees relative positions. The half-split pairing is GPT-NeoX's (and Hugging Face Llama's).
    """
    x1, x2 = _at_least_float32(x).chunk(2, dim=-1)
    rotated = torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return rotated.type_as(x)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = config.n_heads, config.kv_heads, config.head_dim
        d, kv_dim = config.d_model, config.kv_heads * config.head_dim
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, kv_dim, bias=False)
        self.wv = nn.Linear(d, kv_dim, bias=False)
        self.wo = nn.Linear(d, d, bias=False)  # writes into the residual stream: scaled init

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q = self.wq(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, hd)
        k = self.wk(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, H_kv, T, hd)
        v = self.wv(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if self.n_kv_heads != self.n_heads:
            # Query heads g*i .. g*i+g-1 share key/value head i. Repeating k and v here rather than passing
            # enable_gqa=True keeps every SDPA backend usable: torch documents enable_gqa as experimental and
            # supported by the flash and math kernels on CUDA only.
            groups = self.n_heads // self.n_kv_heads
            k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.wo(y.transpose(1, 2).reshape(B, T, C))


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)) (Shazeer 2020, "GLU Variants Improve Transformer")."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.gate = nn.Linear(config.d_model, config.hidden_size, bias=False)
        self.up = nn.Linear(config.d_model, config.hidden_size, bias=False)
        self.down = nn.Linear(config.hidden_size, config.d_model, bias=False)  # residual output: scaled init

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(config.d_model, config.norm_eps)
        self.attn = CausalSelfAttention(config)
        self.mlp_norm = RMSNorm(config.d_model, config.norm_eps)
        self.mlp = SwiGLU(config)
        self.activation_checkpointing = config.activation_checkpointing

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin)
        return x + self.mlp(self.mlp_norm(x))


def run_block(block: Block, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """One block of the forward; the unit that training compiles (once: every block has the same code)."""
    if block.activation_checkpointing and torch.is_grad_enabled():
        # Keep only the block's input; its activations are recomputed in the backward (about one more
        # forward of compute for a large cut in activation memory).
        return checkpoint(block, x, cos, sin, use_reentrant=False)
    return block(x, cos, sin)


def run_norm(norm: RMSNorm, x: torch.Tensor) -> torch.Tensor:
    return norm(x)


@dataclass(frozen=True)
class Execution:
    """How `GPT.forward` runs, never what it computes: every choice gives the same loss and gradients up to
    float rounding (tests/trainer/test_loss.py). The default is eager with full logits (evaluation, export,
    tests); training passes one whose parts are compiled (`mixer.trainer.speed.training_execution`)."""

    block: Callable[[Block, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] = run_block
    norm: Callable[[RMSNorm, torch.Tensor], torch.Tensor] = run_norm
    # > 0: the loss through the output head in chunks of this many positions, never holding the full logits
    # (mixer/trainer/loss.py); the forward then returns no logits. 0: full logits, then the loss.
    loss_chunk_tokens: int = 0
    loss_chunk: ChunkFn = cross_entropy_chunk


EAGER = Execution()


class GPT(nn.Module):
    """The decoder: `GPT(config)(idx, targets)` gives (logits, loss). Build on `torch.device("meta")` and call
    `to_empty(device=...)` then `init_weights()` to skip initialising a large model twice."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_embeddings = nn.Embedding(config.padded_vocab_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.d_model, config.norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.padded_vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.tok_embeddings.weight
        # Non-persistent: derived from the config, so checkpoints stay free of them and a model built on the
        # meta device recomputes them in init_weights().
        cos, sin = rotary_tables(config.head_dim, config.seq_len, config.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        if not self.lm_head.weight.is_meta:  # meta tensors hold no values: init after to_empty()
            self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """(Re)initialise parameters and rotary tables in place, e.g. after `to_empty()` of a meta-device model.

        Every matrix ~ N(0, 0.02); the two projections that write into the residual stream (attention output,
        MLP down) get 0.02 / sqrt(2 n_layers), so the residual's variance stays O(1) after 2 n_layers additions
        (GPT-2). Norm weights start at 1.
        """
        std, residual_std = 0.02, 0.02 / math.sqrt(2 * self.config.n_layers)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=std)
            elif isinstance(module, RMSNorm):
                nn.init.ones_(module.weight)
        for block in self.blocks:
            nn.init.normal_(block.attn.wo.weight, mean=0.0, std=residual_std)
            nn.init.normal_(block.mlp.down.weight, mean=0.0, std=residual_std)
        c = self.config
        cos, sin = rotary_tables(c.head_dim, c.seq_len, c.rope_theta, device=self.rope_cos.device)
        self.rope_cos.copy_(cos)
        self.rope_sin.copy_(sin)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        loss_mask: torch.Tensor | None = None,
        *,
        execution: Execution = EAGER,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Logits (B, T, vocab_size) for token ids `idx` (B, T), and the mean cross-entropy against `targets`.

        `loss_mask` (B, T), optional: 1 where a position counts towards the loss, 0 where it does not; the loss
        is the mean over counted positions (0 if none counts). The loss is None without targets. With targets
        and `execution.loss_chunk_tokens` the logits are never formed and None is returned in their place.
        """
        B, T = idx.shape
        if T > self.config.seq_len:
            raise ValueError(
                f"input has {T} positions but ModelConfig.seq_len is {self.config.seq_len}; "
                "build the model with a larger seq_len"
            )
        if targets is not None and loss_mask is not None and loss_mask.shape != targets.shape:
            raise ValueError(f"loss_mask has shape {tuple(loss_mask.shape)}, targets {tuple(targets.shape)}")
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        x = self.tok_embeddings(idx)
        for block in self.blocks:
            x = execution.block(block, x, cos, sin)
        x = execution.norm(self.norm, x)
        if targets is not None and execution.loss_chunk_tokens:
            loss = chunked_cross_entropy(
                x.flatten(0, 1),
                self.lm_head.weight,
                targets.flatten(),
                vocab_size=self.config.vocab_size,
                chunk_tokens=execution.loss_chunk_tokens,
                loss_mask=None if loss_mask is None else loss_mask.flatten(),
                chunk_fn=execution.loss_chunk,
            )
            return None, loss
        # The padded vocabulary rows are not tokens: slice them off so neither the loss nor a sampler sees them.
        logits = self.lm_head(x)[..., : self.config.vocab_size]
        if targets is None:
            return logits, None
        losses = F.cross_entropy(
            _at_least_float32(logits).flatten(0, 1), targets.flatten().long(), reduction="none"
        )
        if loss_mask is None:
            return logits, losses.mean()
        mask = loss_mask.flatten().to(losses.dtype)
        return logits, (losses * mask).sum() / mask.sum().clamp_min(1.0)


def num_parameters(model: GPT, exclude_embeddings: bool) -> int:
    """The model's parameters, a tied matrix counted once; without the input embedding table if asked.

    A tied table is also the output head, a matmul on every token, so it stays in (see the module docstring).
    """
    total = sum(p.numel() for p in model.parameters())  # parameters() yields a shared tensor once
    if exclude_embeddings and not model.config.tie_embeddings:
        total -= model.tok_embeddings.weight.numel()
    return total


def count_parameters(config: ModelConfig, exclude_embeddings: bool) -> int:
    """`num_parameters` computed from the config alone, without building the model."""
    d, kv_dim = config.d_model, config.kv_heads * config.head_dim
    attention = 2 * d * d + 2 * d * kv_dim  # wq and wo; wk and wv
    mlp = 3 * d * config.hidden_size
    block = attention + mlp + 2 * d  # two RMSNorm weights
    head = config.padded_vocab_size * d
    non_embedding = config.n_layers * block + d + head  # + the final RMSNorm
    if exclude_embeddings or config.tie_embeddings:
        return non_embedding
    return non_embedding + config.padded_vocab_size * d


def flops_per_token(config: ModelConfig, seq_len: int) -> int:
    """Training FLOPs per token, 6 N + 12 L d T (N: non-embedding parameters; see the module docstring)."""
    n = count_parameters(config, exclude_embeddings=True)
    return 6 * n + 12 * config.n_layers * config.d_model * seq_len


def _preset(vocab_size: int, seq_len: int, *, d_model: int, n_layers: int, n_heads: int) -> ModelConfig:
    return ModelConfig(
        vocab_size=vocab_size, seq_len=seq_len, d_model=d_model, n_layers=n_layers, n_heads=n_heads
    )


PRESETS: dict[str, Callable[[int, int], ModelConfig]] = {
    "tiny": functools.partial(_preset, d_model=64, n_layers=2, n_heads=4),  # CPU tests
    "125m": functools.partial(_preset, d_model=768, n_layers=12, n_heads=12),
    "470m": functools.partial(_preset, d_model=1024, n_layers=24, n_heads=16),
    "2.8b": functools.partial(_preset, d_model=2560, n_layers=32, n_heads=32),
}


def preset_config(name: str, *, vocab_size: int, seq_len: int, **overrides: object) -> ModelConfig:
    """The preset `name` for this vocabulary and sequence length, with any ModelConfig fields overridden."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[name](vocab_size, seq_len), **overrides)
