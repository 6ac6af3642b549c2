"""The GPT model: shapes, causality, parameter counts, loss, training, checkpointing, FLOPs."""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import sys

import pytest
import torch

from mixer.trainer import model as model_module
from mixer.trainer.model import (
    GPT,
    PRESETS,
    ModelConfig,
    apply_rotary,
    count_parameters,
    flops_per_token,
    num_parameters,
    preset_config,
    rotary_tables,
)

VOCAB = 100  # padded to 128, so a loss over the padded vocabulary (ln 128) would be told from ln 100
SEQ = 16


def tiny(**overrides) -> ModelConfig:
    sizes = {"vocab_size": VOCAB, "seq_len": SEQ}
    return preset_config("tiny", **{**sizes, **overrides})


def build(config: ModelConfig, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(config)


def random_tokens(batch: int, length: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def test_output_shapes_and_padded_vocab():
    config = tiny()
    assert (config.vocab_size, config.padded_vocab_size, config.hidden_size, config.head_dim) == (
        100,
        128,
        256,
        16,
    )
    model = build(config)
    assert model.tok_embeddings.weight.shape == (128, 64)
    assert model.lm_head.weight.shape == (128, 64)
    idx = random_tokens(3, SEQ)
    logits, loss = model(idx, targets=idx)
    assert logits.shape == (3, SEQ, VOCAB)  # sliced to the real vocabulary
    assert loss.shape == ()
    logits, loss = model(idx[:, :5])
    assert logits.shape == (3, 5, VOCAB) and loss is None


@pytest.mark.parametrize(
    ("vocab", "padded"), [(1, 128), (128, 128), (129, 256), (50257, 50304), (50304, 50304)]
)
def test_padded_vocab_size(vocab, padded):
    assert tiny(vocab_size=vocab).padded_vocab_size == padded


def test_causal_masking_is_exact():
    model = build(tiny(n_layers=3)).eval()
    idx = random_tokens(2, SEQ)
    changed = idx.clone()
    changed[:, 10] = (idx[:, 10] + 1) % VOCAB
    with torch.no_grad():
        before, _ = model(idx)
        after, _ = model(changed)
    assert torch.equal(before[:, :10], after[:, :10])
    assert not torch.equal(before[:, 10], after[:, 10])


def test_grouped_query_attention_equals_attention_with_repeated_kv_heads():
    gqa = build(tiny(n_kv_heads=2)).eval()  # query heads 0, 1 share kv head 0; heads 2, 3 share kv head 1
    mha = build(tiny()).eval()
    state = gqa.state_dict()
    for i in range(2):
        for name in ("wk", "wv"):
            key = f"blocks.{i}.attn.{name}.weight"
            heads = state[key].view(2, 16, 64)  # (kv head, head dim, d_model)
            state[key] = heads.repeat_interleave(2, dim=0).reshape(64, 64)
    mha.load_state_dict(state)
    idx = random_tokens(2, SEQ)
    with torch.no_grad():
        torch.testing.assert_close(gqa(idx)[0], mha(idx)[0], rtol=1e-5, atol=1e-6)
    assert gqa.blocks[0].attn.wk.weight.shape == (32, 64)


def test_rotary_scores_depend_on_relative_position_only():
    torch.manual_seed(0)
    cos, sin = rotary_tables(head_dim=16, seq_len=64, theta=10_000.0)
    q, k = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)

    def score(m: int, n: int) -> float:
        qm = apply_rotary(q.view(1, 1, 1, 16), cos[m : m + 1].double(), sin[m : m + 1].double())
        kn = apply_rotary(k.view(1, 1, 1, 16), cos[n : n + 1].double(), sin[n : n + 1].double())
        return float((qm * kn).sum())

    assert score(7, 3) == pytest.approx(score(40, 36), rel=1e-5)
    assert score(7, 3) != pytest.approx(score(7, 4), rel=1e-3)
    assert score(0, 0) == pytest.approx(float(q @ k), rel=1e-12)  # position 0 is not rotated


# (untied total, tied total = non-embedding N, FLOPs per token at T=2048) for a 50,304-token vocabulary:
# the table in mixer/trainer/model.py's docstring.
PRESET_TABLE = {
    "tiny": (6_570_304, 3_350_848, 23_250_816),
    "125m": (162_220_800, 123_587_328, 968_016_384),
    "470m": (411_354_112, 359_842_816, 2_763_036_672),
    "2.8b": (2_795_276_800, 2_666_498_560, 18_012_257_280),
}


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_parameter_counts_match_docstring_table(name):
    assert set(PRESET_TABLE) == set(PRESETS)
    untied, tied, flops = PRESET_TABLE[name]
    config = PRESETS[name](50_304, 2048)
    tied_config = dataclasses.replace(config, tie_embeddings=True)
    with torch.device("meta"):  # no memory, no init cost: the 2.8B model builds in milliseconds
        model, tied_model = GPT(config), GPT(tied_config)
    assert num_parameters(model, exclude_embeddings=False) == untied
    assert num_parameters(model, exclude_embeddings=True) == tied
    assert num_parameters(tied_model, exclude_embeddings=False) == tied
    assert num_parameters(tied_model, exclude_embeddings=True) == tied
    for cfg, m in ((config, model), (tied_config, tied_model)):
        for exclude in (False, True):
            assert count_parameters(cfg, exclude_embeddings=exclude) == num_parameters(
                m, exclude_embeddings=exclude
            )
    assert flops_per_token(config, 2048) == flops
    row = next(
        line for line in model_module.__doc__.splitlines() if re.match(rf"\s+{re.escape(name)}\s", line)
    )
    assert row.split()[-4:] == [f"{untied:,}", f"{tied:,}", f"{tied:,}", f"{flops:,}"]


def test_tied_embeddings_share_storage():
    model = build(tiny(tie_embeddings=True))
    assert model.lm_head.weight is model.tok_embeddings.weight
    assert model.lm_head.weight.data_ptr() == model.tok_embeddings.weight.data_ptr()
    assert num_parameters(model, exclude_embeddings=False) == num_parameters(
        build(tiny()), exclude_embeddings=True
    )
    idx = random_tokens(2, SEQ)
    model(idx, targets=idx)[1].backward()
    # One tensor, one gradient: the lookup's and the head's contributions land in the same .grad.
    assert model.tok_embeddings.weight.grad is model.lm_head.weight.grad


def test_untrained_loss_is_ln_vocab():
    # After the final RMSNorm the hidden vector h has sum(h_i^2) = d exactly, and the head's rows are
    # N(0, 0.02^2), so each logit is N(0, sigma^2) with sigma^2 = 0.02^2 * 64 = 0.0256. The expected
    # cross-entropy is then ln V + sigma^2 / 2 = ln 100 + 0.013; over 32 x 16 = 512 positions the mean's
    # standard deviation is about sigma / sqrt(512) = 0.007. A tolerance of 0.05 sits ~5 SD above that, and
    # far below ln 128 - ln 100 = 0.25, what a loss over the padded vocabulary would give.
    model = build(tiny())
    idx = random_tokens(32, SEQ + 1)
    with torch.no_grad():
        _, loss = model(idx[:, :-1], targets=idx[:, 1:])
    assert abs(loss.item() - math.log(VOCAB)) < 0.05


def test_loss_mask_averages_counted_positions():
    model = build(tiny())
    idx = random_tokens(2, SEQ + 1)
    inputs, targets = idx[:, :-1], idx[:, 1:]
    mask = torch.zeros(2, SEQ)
    mask[0, 3:9] = 1
    mask[1, 12:] = 1
    with torch.no_grad():
        logits, full = model(inputs, targets=targets)
        _, masked = model(inputs, targets=targets, loss_mask=mask)
        _, all_ones = model(inputs, targets=targets, loss_mask=torch.ones(2, SEQ))
        _, none_counted = model(inputs, targets=targets, loss_mask=torch.zeros(2, SEQ))
    per_position = torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), reduction="none"
    )
    torch.testing.assert_close(masked, per_position[mask.flatten().bool()].mean())
    torch.testing.assert_close(all_ones, full)
    assert none_counted.item() == 0.0
    with pytest.raises(ValueError, match="loss_mask has shape"):
        model(inputs, targets=targets, loss_mask=mask[:, :4])


def test_tiny_model_overfits_fixed_batch():
    model = build(tiny())
    idx = random_tokens(4, SEQ + 1)
    inputs, targets = idx[:, :-1], idx[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    losses = []
    for _ in range(40):
        _, loss = model(inputs, targets=targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 4.5  # ~ln 100 untrained
    assert losses[-1] < 0.01, losses[-10:]  # 0.0014 at the time of writing


def test_activation_checkpointing_matches_plain():
    plain = build(tiny())
    checkpointed = build(tiny(activation_checkpointing=True))
    idx = random_tokens(2, SEQ + 1)
    results = []
    for model in (plain, checkpointed):
        _, loss = model(idx[:, :-1], targets=idx[:, 1:])
        loss.backward()
        results.append((loss.detach(), {n: p.grad for n, p in model.named_parameters()}))
    (loss_a, grads_a), (loss_b, grads_b) = results
    torch.testing.assert_close(loss_a, loss_b, rtol=0, atol=0)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], rtol=1e-6, atol=1e-9, msg=name)


def test_flops_per_token_hand_computed():
    # d=64, 2 layers, 4 heads, SwiGLU hidden 256 (8/3 * 64 = 170 -> 256), vocabulary 256 (already padded).
    # Per layer: wq, wk, wv, wo 4 * 64 * 64 = 16,384; MLP 3 * 64 * 256 = 49,152; norms 2 * 64 = 128 -> 65,664.
    # N = 2 * 65,664 + final norm 64 + head 256 * 64 = 16,384 -> 147,776.
    # FLOPs = 6 * 147,776 + 12 * 2 * 64 * 16 = 886,656 + 24,576 = 911,232.
    config = preset_config("tiny", vocab_size=256, seq_len=16)
    assert count_parameters(config, exclude_embeddings=True) == 147_776
    assert flops_per_token(config, 16) == 911_232
    # Two key/value heads of 16 dims: wk and wv shrink to 64 * 32 each, 4,096 fewer per layer: N = 139,584.
    gqa = preset_config("tiny", vocab_size=256, seq_len=16, n_kv_heads=2)
    assert flops_per_token(gqa, 16) == 6 * 139_584 + 24_576 == 862_080
    assert flops_per_token(config, 1024) == 6 * 147_776 + 12 * 2 * 64 * 1024


def test_scaled_init():
    model = build(tiny(d_model=256, n_heads=4))  # 256 x 256 matrices: std estimates within ~1%
    residual_std = 0.02 / math.sqrt(2 * 2)
    assert model.blocks[0].attn.wq.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.blocks[1].attn.wo.weight.std().item() == pytest.approx(residual_std, rel=0.05)
    assert model.blocks[1].mlp.down.weight.std().item() == pytest.approx(residual_std, rel=0.05)
    assert torch.equal(model.norm.weight, torch.ones(256))
    assert all(not n.endswith("bias") for n, _ in model.named_parameters())


def test_meta_device_build_then_init_weights_matches_eager():
    config = tiny(n_kv_heads=2)
    eager = build(config)
    torch.manual_seed(5)
    eager.init_weights()
    with torch.device("meta"):
        lazy = GPT(config)
    lazy.to_empty(device="cpu")
    torch.manual_seed(5)
    lazy.init_weights()
    for (name, a), (_, b) in zip(eager.state_dict().items(), lazy.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert torch.equal(eager.rope_cos, lazy.rope_cos) and torch.equal(eager.rope_sin, lazy.rope_sin)
    assert "rope_cos" not in eager.state_dict()  # non-persistent: checkpoints carry weights only


def test_input_longer_than_seq_len_is_refused():
    with pytest.raises(ValueError, match="ModelConfig.seq_len is 16"):
        build(tiny())(random_tokens(1, SEQ + 1))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"n_heads": 5}, "d_model"),
        ({"n_kv_heads": 3}, "n_kv_heads"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"d_model": 72, "n_heads": 8}, "must be even"),
        ({"mlp_hidden": 0}, "mlp_hidden"),
    ],
)
def test_config_errors_name_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        tiny(**overrides)


def test_unknown_preset_lists_the_choices():
    with pytest.raises(ValueError, match="tiny, 125m, 470m, 2.8b"):
        preset_config("7b", vocab_size=VOCAB, seq_len=SEQ)


def test_trainer_imports_without_the_build_stack():
    blocked = ["datatrove", "tokenizers", "tiktoken", "datasets", "pyarrow", "click", "pydantic", "yaml"]
    blocked += ["zstandard", "orjson", "numba"]
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None  # any import of these now fails\n"
        "import mixer.trainer.model, mixer.trainer.schedule, mixer.trainer.data, mixer.trainer.loss\n"
        "import mixer.trainer.speed, mixer.trainer.prefetch, mixer.trainer.profile\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
