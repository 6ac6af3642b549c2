"""The chunked loss (head + cross-entropy a chunk of positions at a time) against the plain path (full logits,
then `F.cross_entropy`) on the tiny preset: the same loss and gradients up to float summation order.

Tolerances, and why:
- fp32: loss within 1e-6 relative, every gradient within 1e-5 of the largest entry of its tensor. The two
  paths compute the same fp32 sums in another order (per-chunk loss sums, the head's gradient accumulated
  chunk by chunk); measured differences are ~1e-7 for the loss and ~4e-7 for gradients.
- bf16 autocast: loss within 1e-6 relative (the logits are the same bf16 products, the softmax fp32 in both);
  gradients within 1e-2 of the largest entry. Each chunk's head gradient is rounded to bf16 before the fp32
  accumulation, where the plain path rounds the one whole product once: a difference of a few bf16 units in
  the last place (2^-8 = 0.4%) in some entries, the rounding bf16 training already has (the head's gradient
  product also has another shape, the unpadded vocabulary, so even one chunk can round an entry differently).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mixer.trainer.loss import chunked_cross_entropy, cross_entropy_chunk
from mixer.trainer.model import GPT, Execution, preset_config

VOCAB = 1000  # padded to 1024: the chunked path must leave the padding rows out too
SEQ = 64


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(preset_config("tiny", vocab_size=VOCAB, seq_len=SEQ))


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(0, VOCAB, (4, SEQ), generator=g)
    targets = torch.randint(0, VOCAB, (4, SEQ), generator=g)
    mask = (torch.rand(4, SEQ, generator=g) > 0.3).float()
    return idx, targets, mask


def loss_and_grads(model, idx, targets, execution, *, mask=None, bf16=False):
    model.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        _, loss = model(idx, targets, mask, execution=execution)
    (loss / 2).backward()  # as gradient accumulation over two micro-batches scales it
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return loss.detach(), grads


def assert_close_grads(got, want, tolerance):
    assert got.keys() == want.keys()
    for name in want:
        scale = want[name].abs().max()
        worst = (got[name] - want[name]).abs().max()
        assert worst <= tolerance * scale, f"{name}: {worst:.3g} > {tolerance} x {scale:.3g}"


@pytest.mark.parametrize("chunk", [48, 100, 256, 10_000])  # uneven, even, exactly all rows, more than all
@pytest.mark.parametrize("masked", [False, True])
def test_chunked_loss_matches_the_plain_path_in_fp32(model, batch, chunk, masked):
    idx, targets, mask = batch
    mask = mask if masked else None
    plain_loss, plain_grads = loss_and_grads(model, idx, targets, Execution(), mask=mask)
    loss, grads = loss_and_grads(model, idx, targets, Execution(loss_chunk_tokens=chunk), mask=mask)
    assert loss.item() == pytest.approx(plain_loss.item(), rel=1e-6)
    assert_close_grads(grads, plain_grads, 1e-5)


@pytest.mark.parametrize("chunk", [48, 256])
def test_chunked_loss_matches_the_plain_path_under_bf16_autocast(model, batch, chunk):
    idx, targets, _ = batch
    plain_loss, plain_grads = loss_and_grads(model, idx, targets, Execution(), bf16=True)
    loss, grads = loss_and_grads(model, idx, targets, Execution(loss_chunk_tokens=chunk), bf16=True)
    assert loss.item() == pytest.approx(plain_loss.item(), rel=1e-6)
    assert_close_grads(grads, plain_grads, 1e-2)


def test_chunked_loss_with_tied_embeddings_sums_both_gradients(batch):
    torch.manual_seed(0)
    tied = GPT(preset_config("tiny", vocab_size=VOCAB, seq_len=SEQ, tie_embeddings=True))
    idx, targets, _ = batch
    plain_loss, plain_grads = loss_and_grads(tied, idx, targets, Execution())
    loss, grads = loss_and_grads(tied, idx, targets, Execution(loss_chunk_tokens=100))
    assert loss.item() == pytest.approx(plain_loss.item(), rel=1e-6)
    assert_close_grads(grads, plain_grads, 1e-5)


def test_chunked_forward_returns_no_logits_and_needs_no_grad_mode(model, batch):
    idx, targets, mask = batch
    with torch.no_grad():
        logits, plain = model(idx, targets, mask)
        none, chunked = model(idx, targets, mask, execution=Execution(loss_chunk_tokens=100))
    assert none is None and logits.shape == (4, SEQ, VOCAB)
    assert chunked.item() == pytest.approx(plain.item(), rel=1e-6)


def test_one_chunk_is_cross_entropy_and_its_gradients():
    g = torch.Generator().manual_seed(2)
    hidden = torch.randn(5, 8, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(11, 8, generator=g, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([0, 3, 10, 3, 7])
    row_weights = torch.tensor([0.2, 0.0, 0.3, 0.25, 0.25], dtype=torch.float64)
    expected = (F.cross_entropy(hidden @ weight.t(), targets, reduction="none") * row_weights).sum()
    expected.backward()
    with torch.no_grad():
        loss, grad_hidden, grad_weight = cross_entropy_chunk(hidden, weight, targets, row_weights)
    torch.testing.assert_close(loss.double(), expected.detach(), rtol=1e-6, atol=0)
    # the softmax runs in fp32 (as training's does), so float64 inputs agree to fp32 precision
    torch.testing.assert_close(grad_hidden, hidden.grad, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(grad_weight, weight.grad, rtol=1e-5, atol=1e-7)


def test_a_chunk_size_below_one_is_refused():
    with pytest.raises(ValueError, match="chunk_tokens must be a positive number of positions, got 0"):
        chunked_cross_entropy(
            torch.zeros(2, 4), torch.zeros(8, 4), torch.zeros(2), vocab_size=8, chunk_tokens=0
        )
