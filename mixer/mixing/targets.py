"""How many samples each source contributes to a phase, and whether the data can supply them.

A phase of ``tokens`` training tokens at ``seq_len`` is ``N = ceil(tokens / seq_len)`` samples of
``seq_len + 1`` tokens (consecutive samples of one source overlap by one token, as in Megatron, so each
sample trains ``seq_len`` targets). Sources get whole samples by largest-remainder rounding of
``N * weight / sum(weights)``, so each realised share is within one sample of its target. A source
whose stream would need more than ``max_repetition`` passes over its training tokens makes the phase
infeasible; the error gives the numbers and the largest phase that would fit. A weighted source without
any training tokens can supply nothing at any cap, and is an error of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from mixer.errors import MixerError


class InfeasibleMix(MixerError):
    """A phase needs more tokens from a source than its repetition cap allows."""


def _exact(weights: list[float]) -> list[Fraction]:
    # the decimal the user wrote, not its binary neighbour; exact sums cannot overflow (1e308 + 1e308)
    return [Fraction(repr(float(w))) for w in weights]


def target_shares(weights: list[float]) -> list[float]:
    """Each weight's share of their sum, computed exactly (weights need not sum to 1)."""
    exact = _exact(weights)
    whole = sum(exact)
    return [float(w / whole) for w in exact]


def largest_remainder(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (Hamilton's method, exact arithmetic).

    Leftover units go to the largest fractional remainders; ties go to the earlier weight.
    """
    if total < 0 or not weights or any(w <= 0 for w in weights):
        raise ValueError("largest_remainder needs total >= 0 and positive weights")
    exact = _exact(weights)
    whole = sum(exact)
    quotas = [total * w / whole for w in exact]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


@dataclass(frozen=True)
class SourceTarget:
    name: str
    weight: float
    samples: int
    tokens_needed: int  # tokens of the source's stream the samples span (samples * seq_len + 1)
    tokens_available: int  # training tokens (held-out documents excluded)

    @property
    def repetition(self) -> float:
        return self.tokens_needed / self.tokens_available if self.tokens_available else math.inf


@dataclass(frozen=True)
class PhaseTargets:
    phase: str
    seq_len: int
    samples: int
    sources: list[SourceTarget]


def phase_targets(
    phase: str,
    tokens: int,
    seq_len: int,
    weights: dict[str, float],
    available: dict[str, int],
    max_repetition: float,
) -> PhaseTargets:
    """Per-source samples for the phase; raise :class:`InfeasibleMix` when the cap cannot be kept."""
    samples = -(-tokens // seq_len)
    names = list(weights)
    counts = largest_remainder(samples, [weights[n] for n in names])
    targets = [
        SourceTarget(n, weights[n], c, c * seq_len + 1 if c else 0, available[n])
        for n, c in zip(names, counts, strict=True)
    ]
    for t in targets:
        if t.tokens_available == 0:  # no cap, however large, makes something of nothing
            raise InfeasibleMix(
                f"phase '{phase}': source '{t.name}' has no training tokens, so it cannot supply its weight "
                f"({t.weight:g}); give it documents or remove it from phases.{phase}.weights"
            )
    over = [t for t in targets if t.samples and t.tokens_needed > t.tokens_available * max_repetition]
    if over:
        worst = max(over, key=lambda t: t.repetition)
        largest = largest_feasible_tokens(seq_len, weights, available, max_repetition)
        raise InfeasibleMix(
            f"phase '{phase}': source '{worst.name}' has {worst.tokens_available:,} training tokens but the phase "
            f"needs {worst.tokens_needed:,} of it ({worst.repetition:.2f} epochs) and phases.{phase}.max_repetition "
            f"is {max_repetition:g}. The largest feasible phase at these weights is {largest:,} tokens; lower "
            f"phases.{phase}.tokens, raise max_repetition to {math.ceil(worst.repetition * 100) / 100:g}, "
            f"or give '{worst.name}' a smaller weight"
        )
    return PhaseTargets(phase, seq_len, samples, targets)


def largest_feasible_tokens(
    seq_len: int, weights: dict[str, float], available: dict[str, int], cap: float
) -> int:
    """The most tokens (a whole number of samples) a phase can have without breaking the cap."""
    names = list(weights)

    def fits(samples: int) -> bool:
        counts = largest_remainder(samples, [weights[n] for n in names])
        return all(
            c == 0 or c * seq_len + 1 <= available[n] * cap for n, c in zip(names, counts, strict=True)
        )

    lo, hi = 0, 1
    while fits(hi):
        lo, hi = hi, hi * 2
        if hi > 1 << 50:
            break
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo * seq_len
