"""Learning-rate schedules: pure functions of the optimizer step, no optimizer needed to evaluate them.

Steps count from 0: a run of `total_steps` steps takes steps 0 .. total_steps - 1. Every schedule reaches its
final LR exactly at the last step and holds it for any later step, so `pretrain_end_lr` (where a cooldown
starts) is the LR of the pretrain's last step.

Warmup is linear, max_lr * (step + 1) / warmup_steps: the first step already moves the weights (a step at LR 0
would be wasted) and the last warmup step runs at max_lr.

Values are computed as convex combinations, w * a + (1 - w) * b, so that the ends of every ramp are the
configured LRs exactly rather than off by a rounding error.

The two phases of a recipe map onto these as in "To Code or Not to Code": the pretrain phase runs
`warmup_cosine` (or `warmup_stable_decay`, whose stable part is cut short by the cooldown), and the cooldown phase
runs `linear_decay` from `pretrain_end_lr(pretrain)` to ~0 over its own steps (`cooldown_schedule`).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


def warmup_cosine(step: int, *, max_lr: float, min_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Linear warmup to max_lr, then half a cosine down to min_lr at the last step (total_steps - 1)."""
    _check_step(step)
    _check_total_steps("warmup_cosine", total_steps)
    _check_warmup_steps("warmup_cosine", warmup_steps, total_steps)
    _check_max_min("warmup_cosine", max_lr, min_lr)
    step = min(step, total_steps - 1)
    if step < warmup_steps:
        return max_lr * ((step + 1) / warmup_steps)
    decay_steps = total_steps - 1 - warmup_steps  # steps after the first at max_lr
    progress = (step - warmup_steps) / decay_steps if decay_steps else 1.0
    weight = 0.5 * (1.0 + math.cos(math.pi * progress))  # 1 at the start, 0 at the end
    return weight * max_lr + (1.0 - weight) * min_lr


def warmup_stable_decay(
    step: int, *, max_lr: float, min_lr: float, warmup_steps: int, total_steps: int, decay_fraction: float
) -> float:
    """Linear warmup, max_lr held, then `linear_decay` to min_lr over the final `decay_fraction` of the steps.

    The decay takes round(decay_fraction * total_steps) steps (0: the LR stays at max_lr to the end, for a run
    that a separate cooldown phase will finish).
    """
    _check_step(step)
    if not isinstance(decay_fraction, int | float) or not 0.0 <= decay_fraction <= 1.0:
        raise ValueError(f"warmup_stable_decay: decay_fraction must be in [0, 1], got {decay_fraction!r}")
    _check_total_steps("warmup_stable_decay", total_steps)
    _check_warmup_steps("warmup_stable_decay", warmup_steps, total_steps)
    decay_steps = round(decay_fraction * total_steps)
    if warmup_steps + decay_steps > total_steps:
        raise ValueError(
            f"warmup_stable_decay: warmup_steps ({warmup_steps}) plus the decay's {decay_steps} steps "
            f"(decay_fraction {decay_fraction} of {total_steps}) exceed total_steps ({total_steps}); "
            "lower warmup_steps or decay_fraction"
        )
    _check_max_min("warmup_stable_decay", max_lr, min_lr)
    step = min(step, total_steps - 1)
    if step < warmup_steps:
        return max_lr * ((step + 1) / warmup_steps)
    decay_start = total_steps - decay_steps
    if step < decay_start:
        return max_lr
    return linear_decay(step - decay_start, start_lr=max_lr, end_lr=min_lr, total_steps=decay_steps)


def linear_decay(step: int, *, start_lr: float, end_lr: float, total_steps: int) -> float:
    """start_lr at step 0, falling linearly to exactly end_lr at the last step (total_steps - 1) and after.

    The cooldown phase's schedule: start_lr is where the pretrain ended (`pretrain_end_lr`) or a configured
    value, end_lr about 0. A one-step decay runs at end_lr.
    """
    _check_step(step)
    _check_total_steps("linear_decay", total_steps)
    _check_lr("linear_decay", "start_lr", start_lr)
    _check_lr("linear_decay", "end_lr", end_lr)
    if end_lr > start_lr:
        raise ValueError(f"linear_decay: end_lr ({end_lr}) must not exceed start_lr ({start_lr})")
    if total_steps == 1:
        return end_lr
    progress = min(step, total_steps - 1) / (total_steps - 1)
    return (1.0 - progress) * start_lr + progress * end_lr


SCHEDULES: dict[str, Callable[..., float]] = {
    "warmup_cosine": warmup_cosine,
    "warmup_stable_decay": warmup_stable_decay,
    "linear_decay": linear_decay,
}


@dataclass(frozen=True)
class Schedule:
    """A named schedule and its keyword parameters, validated when built: `Schedule("linear_decay", {...})`."""

    kind: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"Schedule.kind {self.kind!r} is unknown; choose one of {', '.join(SCHEDULES)}")
        expected = [
            name
            for name, p in inspect.signature(SCHEDULES[self.kind]).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        unknown = sorted(set(self.params) - set(expected))
        if unknown:
            raise ValueError(
                f"Schedule {self.kind!r} has no parameter {', '.join(unknown)}; its parameters are {', '.join(expected)}"
            )
        missing = [name for name in expected if name not in self.params]
        if missing:
            raise ValueError(f"Schedule {self.kind!r} is missing parameter {', '.join(missing)}")
        object.__setattr__(self, "params", dict(self.params))
        self.lr_at(0)  # the schedule function validates the values

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Schedule:
        """From a flat mapping such as a config file's `{kind: warmup_cosine, max_lr: 3.0e-4, ...}`."""
        if "kind" not in data:
            raise ValueError(
                f"a schedule needs a 'kind' ({', '.join(SCHEDULES)}); got keys {', '.join(data)}"
            )
        params = {k: v for k, v in data.items() if k != "kind"}
        return cls(str(data["kind"]), params)  # type: ignore[arg-type]

    @property
    def total_steps(self) -> int:
        return int(self.params["total_steps"])

    def lr_at(self, step: int) -> float:
        return SCHEDULES[self.kind](step, **self.params)


def pretrain_end_lr(schedule: Schedule) -> float:
    """The LR of the schedule's last step: where a cooldown that continues this run starts."""
    return schedule.lr_at(schedule.total_steps - 1)


def cooldown_schedule(
    pretrain: Schedule, *, total_steps: int, end_lr: float = 0.0, start_lr: float | None = None
) -> Schedule:
    """The cooldown phase: linear decay from `start_lr` (default: where `pretrain` ended) to `end_lr`."""
    start = pretrain_end_lr(pretrain) if start_lr is None else start_lr
    return Schedule("linear_decay", {"start_lr": start, "end_lr": end_lr, "total_steps": total_steps})


def _check_step(step: int) -> None:
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")


def _check_total_steps(kind: str, total_steps: int) -> None:
    if not _is_int(total_steps) or total_steps < 1:
        raise ValueError(f"{kind}: total_steps must be a positive integer, got {total_steps!r}")


def _check_warmup_steps(kind: str, warmup_steps: int, total_steps: int) -> None:
    if not _is_int(warmup_steps) or not 0 <= warmup_steps < total_steps:
        raise ValueError(
            f"{kind}: warmup_steps must be an integer in [0, total_steps) = [0, {total_steps}), got {warmup_steps!r}"
        )


def _check_max_min(kind: str, max_lr: float, min_lr: float) -> None:
    _check_lr(kind, "max_lr", max_lr)
    _check_lr(kind, "min_lr", min_lr)
    if min_lr > max_lr:
        raise ValueError(f"{kind}: min_lr ({min_lr}) must not exceed max_lr ({max_lr})")


def _check_lr(kind: str, name: str, value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{kind}: {name} must be a finite number >= 0, got {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
