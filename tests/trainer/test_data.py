
import numpy as np
import pytest

from mixer.trainer.data import PhaseBatches


def rows(batches):
    return [r.tolist() for b in batches for r in np.concatenate([b.inputs[:, :1], b.targets], axis=1)]


def test_batches_are_the_blend_samples_in_order_with_shifted_targets(blend):
    data = PhaseBatches(blend, global_batch=4, micro_batch=2)
    assert data.steps == 8 and len(blend) == 32
    first = data.step_batches()
    assert rows(first) == [blend[k][0].tolist() for k in range(4)]
    assert (
        first[0].inputs.shape == (2, 8)
        and first[0].targets[0, :-1].tolist() == first[0].inputs[0, 1:].tolist()
    )
    assert first[0].sources + first[1].sources == [blend[k][1] for k in range(4)]
    assert data.consumed == 4


def test_two_ranks_split_each_global_batch_exactly(blend):
    one = list(PhaseBatches(blend, global_batch=4, micro_batch=1))
    r0 = list(PhaseBatches(blend, global_batch=4, micro_batch=1, rank=0, world=2))
    r1 = list(PhaseBatches(blend, global_batch=4, micro_batch=1, rank=1, world=2))
    for step, (a, b, c) in enumerate(zip(one, r0, r1, strict=True)):
        assert rows(a) == rows(b) + rows(c), step


def test_resume_by_consumed_samples_with_another_world_size(blend):
    full = [rows(b) for b in PhaseBatches(blend, global_batch=4, micro_batch=2)]
    resumed = PhaseBatches(blend, global_batch=4, micro_batch=1, rank=0, world=2, consumed=12)
    other = PhaseBatches(blend, global_batch=4, micro_batch=1, rank=1, world=2, consumed=12)
    assert [rows(a) + rows(b) for a, b in zip(resumed, other, strict=True)] == full[3:]


def test_bad_batch_settings_are_refused(blend):
    with pytest.raises(ValueError, match="does not split over 3 processes"):
        PhaseBatches(blend, global_batch=4, micro_batch=1, world=3)
    with pytest.raises(ValueError, match="micro batch 3 does not divide"):
        PhaseBatches(blend, global_batch=4, micro_batch=3)
    with pytest.raises(ValueError, match="not a whole number of global batches"):
        PhaseBatches(blend, global_batch=4, micro_batch=1, consumed=5)
