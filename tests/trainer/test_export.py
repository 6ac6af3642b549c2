"""Hugging Face export: transformers loads the folder and computes our logits; files, config, tokenizer, refusals."""

from __future__ import annotations

import dataclasses
import json
import sysconfig
from pathlib import Path

import pytest
import safetensors.torch as safetensors_torch
import torch
import transformers
from safetensors import safe_open
from tokenizers import Tokenizer

from mixer.shards.tokenizer import train_bpe
from mixer.trainer.export import ExportError, export_hf
from mixer.trainer.model import GPT, ModelConfig, preset_config

VOCAB = 300  # padded to 384: the export must drop 84 rows of the embedding and the head
SEQ = 32

VARIANTS = {
    "untied": {},
    "tied": {"tie_embeddings": True},
    # Grouped-query attention, with a rope_theta and norm_eps that differ from transformers' defaults.
    "gqa": {"n_kv_heads": 2, "rope_theta": 500.0, "norm_eps": 1e-6},
    "gqa-tied": {"n_kv_heads": 2, "tie_embeddings": True},
}


def tiny(**overrides) -> ModelConfig:
    return preset_config("tiny", **{"vocab_size": VOCAB, "seq_len": SEQ, **overrides})


def randomised(config: ModelConfig, seed: int = 0) -> GPT:
    """A GPT whose every weight matters: norm weights away from 1 (so swapping two norms shows), unit-scale
    activations (so logits are O(1) and atol 1e-5 is tight), and huge values in the padded vocabulary rows
    (which no output may depend on)."""
    torch.manual_seed(seed)
    model = GPT(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.copy_(1 + 0.5 * torch.randn_like(p))
            elif name == "tok_embeddings.weight":
                p.normal_(0.0, 1.0)
            else:
                p.normal_(0.0, p.shape[1] ** -0.5)
        model.tok_embeddings.weight[VOCAB:] = 1e4
        model.lm_head.weight[VOCAB:] = 1e4
    return model.eval()


def random_ids(batch: int, length: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def load_hf(out: Path, dtype: torch.dtype = torch.float32):
    return transformers.AutoModelForCausalLM.from_pretrained(out, dtype=dtype, local_files_only=True).eval()


def stdlib_texts(count: int = 40) -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return [p.read_text(encoding="utf-8")[:4000] for p in sorted(root.glob("*.py"))[:count]]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    """The build's layout: <build output>/tokenizer/tokenizer.json, EOS "<|endoftext|>" at id 0."""
    folder = tmp_path_factory.mktemp("build") / "tokenizer"
    train_bpe(stdlib_texts(), vocab_size=VOCAB, out_path=folder / "tokenizer.json")
    return folder


# --- the exported model computes our logits ----------------------------------------------------------------


@pytest.mark.parametrize("overrides", VARIANTS.values(), ids=VARIANTS.keys())
def test_transformers_logits_equal_ours(tmp_path, overrides):
    config = tiny(**overrides)
    model = randomised(config)
    out = export_hf(config, model.state_dict(), tmp_path / "hf")
    assert out == tmp_path / "hf"
    hf = load_hf(out)
    assert type(hf).__name__ == "LlamaForCausalLM"
    if config.tie_embeddings:
        assert hf.lm_head.weight.data_ptr() == hf.model.embed_tokens.weight.data_ptr()
    padding = (config.padded_vocab_size - VOCAB) * config.d_model * (1 if config.tie_embeddings else 2)
    assert sum(p.numel() for p in hf.parameters()) == sum(p.numel() for p in model.parameters()) - padding

    idx = random_ids(3, SEQ)
    with torch.no_grad():
        ours, _ = model(idx)
        theirs = hf(idx).logits
    assert ours.shape == theirs.shape == (3, SEQ, VOCAB)
    assert ours.std() > 1  # O(1) logits: atol 1e-5 is a tight check, not a trivially small difference
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=1e-5)
    # A prefix too: transformers' causal mask for a shorter input must agree with ours.
    with torch.no_grad():
        torch.testing.assert_close(hf(idx[:, :7]).logits, model(idx[:, :7])[0], atol=1e-5, rtol=1e-5)


def test_bfloat16_export(tmp_path):
    config = tiny(n_kv_heads=2)
    model = randomised(config)
    out = export_hf(config, model.state_dict(), tmp_path / "hf", dtype=torch.bfloat16)
    tensors = safetensors_torch.load_file(out / "model.safetensors")
    assert {t.dtype for t in tensors.values()} == {torch.bfloat16}
    assert torch.equal(
        tensors["model.layers.1.self_attn.k_proj.weight"], model.blocks[1].attn.wk.weight.bfloat16()
    )
    config_json = json.loads((out / "config.json").read_text())
    assert (config_json["torch_dtype"], config_json["dtype"]) == ("bfloat16", "bfloat16")
    hf = transformers.AutoModelForCausalLM.from_pretrained(out, dtype="auto", local_files_only=True)
    assert hf.dtype == torch.bfloat16


# --- the files -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_weights_file_names_shapes_and_values(tmp_path, tied):
    config = tiny(tie_embeddings=tied)
    model = randomised(config)
    out = export_hf(config, model.state_dict(), tmp_path / "hf")
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "generation_config.json",
        "model.safetensors",
    ]

    with safe_open(out / "model.safetensors", framework="pt") as f:
        assert f.metadata() == {"format": "pt"}
    tensors = safetensors_torch.load_file(out / "model.safetensors")
    layer = [
        "input_layernorm.weight",
        "mlp.down_proj.weight",
        "mlp.gate_proj.weight",
        "mlp.up_proj.weight",
        "post_attention_layernorm.weight",
        "self_attn.k_proj.weight",
        "self_attn.o_proj.weight",
        "self_attn.q_proj.weight",
        "self_attn.v_proj.weight",
    ]
    expected = {"model.embed_tokens.weight", "model.norm.weight"} | {
        f"model.layers.{i}.{name}" for i in range(2) for name in layer
    }
    if not tied:
        expected.add("lm_head.weight")
    assert set(tensors) == expected
    assert all(t.is_contiguous() and t.dtype == torch.float32 for t in tensors.values())

    assert tensors["model.embed_tokens.weight"].shape == (VOCAB, 64)
    assert torch.equal(tensors["model.embed_tokens.weight"], model.tok_embeddings.weight[:VOCAB])
    if not tied:
        assert torch.equal(tensors["lm_head.weight"], model.lm_head.weight[:VOCAB])
    block = model.blocks[1]
    pairs = {
        "input_layernorm.weight": block.attn_norm.weight,
        "post_attention_layernorm.weight": block.mlp_norm.weight,
        "self_attn.q_proj.weight": block.attn.wq.weight,
        "self_attn.k_proj.weight": block.attn.wk.weight,
        "self_attn.v_proj.weight": block.attn.wv.weight,
        "self_attn.o_proj.weight": block.attn.wo.weight,
        "mlp.gate_proj.weight": block.mlp.gate.weight,
        "mlp.up_proj.weight": block.mlp.up.weight,
        "mlp.down_proj.weight": block.mlp.down.weight,
    }
    for name, ours in pairs.items():
        assert torch.equal(tensors[f"model.layers.1.{name}"], ours), name
    assert torch.equal(tensors["model.norm.weight"], model.norm.weight)


def test_config_json(tmp_path):
    config = tiny(**VARIANTS["gqa"])
    out = export_hf(config, randomised(config).state_dict(), tmp_path / "hf")
    written = json.loads((out / "config.json").read_text())
    expected = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": 300,
        "hidden_size": 64,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "hidden_act": "silu",
        "max_position_embeddings": SEQ,
        "rms_norm_eps": 1e-6,
        "rope_theta": 500.0,
        "rope_scaling": None,
        "rope_parameters": {"rope_type": "default", "rope_theta": 500.0},
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "dtype": "float32",
        "bos_token_id": None,  # no tokenizer given: unknown
        "eos_token_id": None,
    }
    assert {k: written[k] for k in expected} == expected
    assert json.loads((out / "generation_config.json").read_text()) == {
        "_from_model_config": True,
        "bos_token_id": None,
        "eos_token_id": None,
    }
    hf_config = transformers.AutoConfig.from_pretrained(out, local_files_only=True)
    assert type(hf_config).__name__ == "LlamaConfig"
    assert hf_config.rope_parameters["rope_theta"] == 500.0
    assert (hf_config.num_key_value_heads, hf_config.head_dim, hf_config.vocab_size) == (2, 16, 300)


# --- the tokenizer -----------------------------------------------------------------------------------------


TEXT = 'def export(path: str) -> None:\n    """Write the folder."""\n    return  # naïve café, 中文, 42\n\n'


def test_tokenizer_round_trip(tmp_path, tokenizer_dir):
    config = tiny()
    out = export_hf(config, randomised(config).state_dict(), tmp_path / "hf", tokenizer_dir=tokenizer_dir)
    assert (out / "tokenizer.json").read_bytes() == (tokenizer_dir / "tokenizer.json").read_bytes()

    tok = transformers.AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert isinstance(tok, transformers.PreTrainedTokenizerFast)
    original = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).encode(
        TEXT, add_special_tokens=False
    )
    assert len(original.ids) > 10
    assert tok(TEXT)["input_ids"] == tok.encode(TEXT) == original.ids  # no BOS or EOS added
    assert tok.decode(original.ids) == TEXT
    assert (tok.eos_token, tok.eos_token_id, tok.bos_token_id) == ("<|endoftext|>", 0, 0)

    model_config = json.loads((out / "config.json").read_text())
    generation = json.loads((out / "generation_config.json").read_text())
    assert (model_config["eos_token_id"], model_config["bos_token_id"]) == (0, 0)
    assert (generation["eos_token_id"], generation["bos_token_id"]) == (0, 0)


def test_tokenizer_eos_found_like_the_build(tmp_path):
    folder = tmp_path / "tokenizer"
    train_bpe(
        stdlib_texts(10),
        vocab_size=VOCAB,
        special_tokens=("<pad>", "</s>"),
        out_path=folder / "tokenizer.json",
    )
    config = tiny()
    out = export_hf(config, randomised(config).state_dict(), tmp_path / "hf", tokenizer_dir=folder)
    tok = transformers.AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert (tok.eos_token, tok.eos_token_id) == ("</s>", 1)
    assert json.loads((out / "config.json").read_text())["eos_token_id"] == 1


def test_tokenizer_larger_than_the_model_is_refused(tmp_path, tokenizer_dir):
    config = tiny(vocab_size=VOCAB - 20)
    with pytest.raises(ExportError, match="has 300 ids but the model only 280"):
        export_hf(config, GPT(config).state_dict(), tmp_path / "hf", tokenizer_dir=tokenizer_dir)
    assert not (tmp_path / "hf").exists()


def test_tokenizer_dir_without_tokenizer_json_is_refused(tmp_path):
    config = tiny()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="holds no tokenizer.json"):
        export_hf(config, GPT(config).state_dict(), tmp_path / "hf", tokenizer_dir=tmp_path / "empty")


# --- refusals ----------------------------------------------------------------------------------------------


def test_non_empty_output_is_refused_and_left_alone(tmp_path):
    config = tiny()
    out = tmp_path / "hf"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="already exists and is not an empty folder"):
        export_hf(config, GPT(config).state_dict(), out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not an empty folder"):
        export_hf(config, GPT(config).state_dict(), tmp_path / "file")


def test_empty_output_folder_is_used(tmp_path):
    config = tiny()
    (tmp_path / "hf").mkdir()
    out = export_hf(config, GPT(config).state_dict(), tmp_path / "hf")
    assert (out / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf"]  # no temporary folder left behind


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def broken_save_file(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors_torch, "save_file", broken_save_file)
    config = tiny()
    with pytest.raises(OSError, match="disk full"):
        export_hf(config, GPT(config).state_dict(), tmp_path / "hf")
    assert list(tmp_path.iterdir()) == []


def test_state_dict_not_matching_the_config_is_refused(tmp_path):
    config = tiny()
    state = GPT(config).state_dict()
    missing = {k: v for k, v in state.items() if k != "blocks.1.mlp.up.weight"}
    with pytest.raises(ExportError, match=r"missing \['blocks.1.mlp.up.weight'\]"):
        export_hf(config, missing, tmp_path / "a")
    compiled = {f"_orig_mod.{k}": v for k, v in state.items()}
    with pytest.raises(ExportError, match="strip the '_orig_mod.'"):
        export_hf(config, compiled, tmp_path / "b")
    with pytest.raises(
        ExportError, match=r"blocks.0.attn.wk.weight has shape \(64, 64\) but the config gives \(32, 64\)"
    ):
        export_hf(dataclasses.replace(config, n_kv_heads=2), state, tmp_path / "c")
    untied = GPT(config).state_dict()
    with pytest.raises(ExportError, match="trained untied"):
        export_hf(dataclasses.replace(config, tie_embeddings=True), untied, tmp_path / "d")
    with pytest.raises(ExportError, match="floating-point"):
        export_hf(config, state, tmp_path / "e", dtype=torch.int8)
    assert list(tmp_path.iterdir()) == []


def test_tied_state_dict_without_the_head_key(tmp_path):
    config = tiny(tie_embeddings=True)
    model = randomised(config)
    state = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
    hf = load_hf(export_hf(config, state, tmp_path / "hf"))
    idx = random_ids(1, SEQ)
    with torch.no_grad():
        torch.testing.assert_close(hf(idx).logits, model(idx)[0], atol=1e-5, rtol=1e-5)
