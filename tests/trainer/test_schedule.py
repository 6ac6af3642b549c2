"""Learning-rate schedules: exact values at chosen steps, the cooldown hand-off, and parameter errors."""

from __future__ import annotations

import math

import pytest

from mixer.trainer.schedule import (
    Schedule,
    cooldown_schedule,
    linear_decay,
    pretrain_end_lr,
    warmup_cosine,
    warmup_stable_decay,
)

# 100 warmup steps, then 1,000 cosine steps after the first at max_lr: steps 0 .. 1100.
COSINE = {"max_lr": 3e-4, "min_lr": 3e-5, "warmup_steps": 100, "total_steps": 1101}
# 10 warmup steps, stable to step 79, decay over the last 20 steps (0.2 of 100): steps 80 .. 99.
WSD = {"max_lr": 1e-3, "min_lr": 0.0, "warmup_steps": 10, "total_steps": 100, "decay_fraction": 0.2}


@pytest.mark.parametrize(
    ("step", "lr"),
    [
        (0, 3e-6),  # max_lr * 1/100: the first step already trains
        (49, 1.5e-4),
        (99, 3e-4),  # end of warmup
        (100, 3e-4),  # cosine progress 0
        (350, 3e-5 + 2.7e-4 * (2 + math.sqrt(2)) / 4),  # progress 1/4: weight (1 + cos(pi/4)) / 2
        (600, 1.65e-4),  # middle: halfway between max_lr and min_lr
        (1100, 3e-5),  # last step
        (1101, 3e-5),  # past the end
        (10_000, 3e-5),
    ],
)
def test_warmup_cosine(step, lr):
    assert warmup_cosine(step, **COSINE) == pytest.approx(lr, rel=1e-12, abs=0)


def test_warmup_cosine_ends_are_exact():
    assert warmup_cosine(99, **COSINE) == 3e-4
    assert warmup_cosine(100, **COSINE) == 3e-4
    assert warmup_cosine(1100, **COSINE) == 3e-5
    assert warmup_cosine(0, max_lr=1e-3, min_lr=1e-4, warmup_steps=0, total_steps=5) == 1e-3
    assert (
        warmup_cosine(0, max_lr=1e-3, min_lr=1e-4, warmup_steps=0, total_steps=1) == 1e-4
    )  # one step: the end


@pytest.mark.parametrize(
    ("step", "lr"),
    [
        (0, 1e-4),
        (9, 1e-3),  # end of warmup
        (10, 1e-3),
        (50, 1e-3),  # stable
        (79, 1e-3),
        (80, 1e-3),  # first decay step starts at max_lr
        (89, 1e-3 * 10 / 19),  # 9 of the decay's 19 intervals done
        (99, 0.0),  # last step
        (150, 0.0),  # past the end
    ],
)
def test_warmup_stable_decay(step, lr):
    assert warmup_stable_decay(step, **WSD) == pytest.approx(lr, rel=1e-12, abs=0)


def test_warmup_stable_decay_without_decay_stays_at_max_lr():
    params = {**WSD, "decay_fraction": 0.0}
    assert [warmup_stable_decay(s, **params) for s in (10, 99, 500)] == [1e-3, 1e-3, 1e-3]


@pytest.mark.parametrize(
    ("step", "lr"), [(0, 2e-4), (1, 1.525e-4), (2, 1.05e-4), (3, 5.75e-5), (4, 1e-5), (9, 1e-5)]
)
def test_linear_decay(step, lr):
    assert linear_decay(step, start_lr=2e-4, end_lr=1e-5, total_steps=5) == pytest.approx(
        lr, rel=1e-12, abs=0
    )


def test_linear_decay_ends_are_exact():
    assert linear_decay(0, start_lr=2e-4, end_lr=1e-5, total_steps=5) == 2e-4
    assert linear_decay(4, start_lr=2e-4, end_lr=1e-5, total_steps=5) == 1e-5
    assert linear_decay(0, start_lr=2e-4, end_lr=1e-5, total_steps=1) == 1e-5  # one step: the end


def test_cooldown_starts_where_pretrain_ended_and_decays_to_zero():
    pretrain = Schedule("warmup_cosine", COSINE)
    assert pretrain_end_lr(pretrain) == 3e-5
    cooldown = cooldown_schedule(pretrain, total_steps=101)
    assert cooldown == Schedule("linear_decay", {"start_lr": 3e-5, "end_lr": 0.0, "total_steps": 101})
    assert cooldown.lr_at(0) == 3e-5  # first cooldown step
    assert cooldown.lr_at(50) == pytest.approx(1.5e-5, rel=1e-12)
    assert cooldown.lr_at(100) == 0.0  # last cooldown step
    assert cooldown.lr_at(101) == 0.0


def test_cooldown_after_a_stable_pretrain_starts_at_max_lr():
    pretrain = Schedule("warmup_stable_decay", {**WSD, "decay_fraction": 0.0})
    assert pretrain_end_lr(pretrain) == 1e-3
    cooldown = cooldown_schedule(pretrain, total_steps=11, end_lr=1e-6)
    assert (cooldown.lr_at(0), cooldown.lr_at(10)) == (1e-3, 1e-6)


def test_cooldown_from_a_configured_start_lr():
    pretrain = Schedule("warmup_cosine", COSINE)
    cooldown = cooldown_schedule(pretrain, total_steps=3, start_lr=2e-4, end_lr=0.0)
    assert [cooldown.lr_at(s) for s in range(3)] == [2e-4, 1e-4, 0.0]


def test_schedule_lr_at_matches_the_function():
    schedule = Schedule.from_dict({"kind": "warmup_stable_decay", **WSD})
    assert schedule == Schedule("warmup_stable_decay", WSD)
    assert schedule.total_steps == 100
    assert [schedule.lr_at(s) for s in range(120)] == [warmup_stable_decay(s, **WSD) for s in range(120)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: warmup_cosine(0, **{**COSINE, "warmup_steps": 1101}),
            r"warmup_steps must be an integer in \[0, total_steps\) = \[0, 1101\), got 1101",
        ),
        (lambda: warmup_cosine(0, **{**COSINE, "warmup_steps": -1}), "warmup_steps"),
        (lambda: warmup_cosine(0, **{**COSINE, "total_steps": 0}), "total_steps must be a positive integer"),
        (
            lambda: warmup_cosine(0, **{**COSINE, "total_steps": 1e3}),
            "total_steps must be a positive integer",
        ),
        (lambda: warmup_cosine(0, **{**COSINE, "min_lr": 1e-3}), r"min_lr \(0.001\) must not exceed max_lr"),
        (lambda: warmup_cosine(0, **{**COSINE, "max_lr": -1.0}), "max_lr must be a finite number >= 0"),
        (lambda: warmup_cosine(0, **{**COSINE, "max_lr": math.nan}), "max_lr must be a finite number"),
        (lambda: warmup_cosine(-1, **COSINE), "step must be >= 0"),
        (
            lambda: warmup_stable_decay(0, **{**WSD, "decay_fraction": 1.5}),
            r"decay_fraction must be in \[0, 1\]",
        ),
        (lambda: warmup_stable_decay(0, **{**WSD, "decay_fraction": 0.95}), "exceed total_steps"),
        (
            lambda: linear_decay(0, start_lr=1e-5, end_lr=1e-4, total_steps=5),
            r"end_lr \(0.0001\) must not exceed",
        ),
        (lambda: linear_decay(0, start_lr=1e-4, end_lr=0.0, total_steps=0), "linear_decay: total_steps"),
    ],
)
def test_bad_parameters_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("step", {}, "Schedule.kind 'step' is unknown; choose one of warmup_cosine, warmup_stable_decay"),
        ("warmup_cosine", {**COSINE, "decay_fraction": 0.1}, "has no parameter decay_fraction"),
        ("linear_decay", {"start_lr": 1e-4, "total_steps": 5}, "missing parameter end_lr"),
        ("warmup_cosine", {**COSINE, "warmup_steps": 2000}, "warmup_steps"),
    ],
)
def test_bad_schedules_fail_when_built(kind, params, message):
    with pytest.raises(ValueError, match=message):
        Schedule(kind, params)


def test_from_dict_needs_a_kind():
    with pytest.raises(ValueError, match="a schedule needs a 'kind'"):
        Schedule.from_dict(COSINE)
