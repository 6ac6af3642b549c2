"""Start a phase from a Hugging Face Llama model: continued pretraining of a released (or exported) model.

`mixer train ... --init-from FOLDER` takes a folder that `transformers` wrote (`config.json`, then
`model.safetensors` or its shards with `model.safetensors.index.json`) as well as a mixer checkpoint. The
model's shape comes from its `config.json` instead of the phase's `train.model` preset; its weights are
renamed back (the inverse of :mod:`mixer.trainer.export`) and the vocabulary padded to mixer's multiple of
128. The optimizer starts fresh (a released model carries no moments), and so does the LR schedule
(`warmup_cosine` unless the phase sets one). The build's tokenizer must be the model's: the vocabulary size
must match, and where the folder holds a `tokenizer.json`, its vocabulary too.

Supported: what mixer's model is — LlamaForCausalLM (and Mistral-style configs with the same tensors)
with SiLU, no biases, default rotary embeddings. Anything else is refused with what differs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from mixer.errors import MissingDependency, MixerError
from mixer.trainer.export import _BLOCK_NAMES
from mixer.trainer.model import ModelConfig


class HFImportError(MixerError, ValueError):
    """The folder is not a Hugging Face model that mixer's GPT can hold."""


def is_hf_model(folder: Path) -> bool:
    folder = Path(folder)
    return (folder / "config.json").is_file() and not (folder / "state.json").is_file()


def hf_model_config(folder: Path, *, seq_len: int, activation_checkpointing: bool = False) -> ModelConfig:
    """mixer's `ModelConfig` for the Hugging Face model in `folder`, at the phase's `seq_len`."""
    path = Path(folder) / "config.json"
    try:
        cfg = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise HFImportError(f"{path}: cannot read the model's config ({e})") from None
    problems = []
    if cfg.get("model_type") not in ("llama", "mistral"):
        problems.append(f"model_type is {cfg.get('model_type')!r}, not llama")
    if cfg.get("hidden_act", "silu") != "silu":
        problems.append(f"hidden_act is {cfg['hidden_act']!r}, not silu")
    if cfg.get("attention_bias") or cfg.get("mlp_bias"):
        problems.append("it has biases")
    rope = cfg.get("rope_scaling") or {}
    rope_type = (cfg.get("rope_parameters") or {}).get("rope_type", "default")
    if rope or rope_type != "default":
        problems.append(f"its rotary embeddings are scaled ({rope or rope_type})")
    if cfg.get("sliding_window"):
        problems.append("it uses sliding-window attention")
    if problems:
        raise HFImportError(
            f"--init-from {folder}: mixer's GPT cannot hold this model: {'; '.join(problems)}"
        )
    theta = (cfg.get("rope_parameters") or {}).get("rope_theta", cfg.get("rope_theta", 10_000.0))
    heads = cfg["num_attention_heads"]
    if cfg.get("head_dim") not in (None, cfg["hidden_size"] // heads):
        raise HFImportError(f"--init-from {folder}: head_dim {cfg['head_dim']} is not hidden_size / heads")
    kv_heads = cfg.get("num_key_value_heads") or heads
    config = ModelConfig(
        vocab_size=cfg["vocab_size"],
        seq_len=seq_len,
        d_model=cfg["hidden_size"],
        n_layers=cfg["num_hidden_layers"],
        n_heads=heads,
        n_kv_heads=None if kv_heads == heads else kv_heads,  # as the presets write "one per query head"
        tie_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        rope_theta=float(theta),
        norm_eps=float(cfg.get("rms_norm_eps", 1e-5)),
        activation_checkpointing=activation_checkpointing,
    )
    if config.hidden_size != cfg["intermediate_size"]:  # not the 8/3 d default: say it
        config = dataclasses.replace(config, mlp_hidden=cfg["intermediate_size"])
    return config


def hf_weights(folder: Path, config: ModelConfig) -> dict[str, torch.Tensor]:
    """The model's tensors under mixer's names, fp32, the vocabulary rows padded with zeros."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise MissingDependency("safetensors", "starting from a Hugging Face model", extra="train") from None
    folder = Path(folder)
    index = folder / "model.safetensors.index.json"
    files = (
        sorted({folder / f for f in json.loads(index.read_text())["weight_map"].values()})
        if index.is_file()
        else [folder / "model.safetensors"]
    )
    if not all(f.is_file() for f in files):
        raise HFImportError(
            f"--init-from {folder}: no model.safetensors (or its index); give a model saved as safetensors"
        )
    theirs: dict[str, torch.Tensor] = {}
    for f in files:
        theirs.update(load_file(str(f)))
    names = {"model.embed_tokens.weight": "tok_embeddings.weight", "model.norm.weight": "norm.weight"}
    if not config.tie_embeddings:
        names["lm_head.weight"] = "lm_head.weight"
    for i in range(config.n_layers):
        for ours, hf in _BLOCK_NAMES.items():
            names[f"model.layers.{i}.{hf}"] = f"blocks.{i}.{ours}"
    missing = [k for k in names if k not in theirs]
    if missing:
        raise HFImportError(f"--init-from {folder}: tensors missing from the model: {missing[:4]}")
    out = {}
    for hf, ours in names.items():
        tensor = theirs[hf].to(torch.float32)
        if ours in ("tok_embeddings.weight", "lm_head.weight"):
            padded = torch.zeros(config.padded_vocab_size, tensor.shape[1])
            padded[: tensor.shape[0]] = tensor
            tensor = padded
        out[ours] = tensor
    if config.tie_embeddings:
        out["lm_head.weight"] = out["tok_embeddings.weight"]
    return out


def check_tokenizer(folder: Path, build_tokenizer: Path, vocab_size: int) -> None:
    """The build's tokenizer must be the model's: same vocabulary size, and same vocabulary where known."""
    config = hf_model_config(folder, seq_len=1)
    if config.vocab_size != vocab_size:
        raise HFImportError(
            f"--init-from {folder} has a vocabulary of {config.vocab_size} ids, this build's tokenizer "
            f"{vocab_size}: build the corpus with the model's tokenizer (tokenizer.path: {folder}/tokenizer.json)"
        )
    theirs = Path(folder) / "tokenizer.json"
    if theirs.is_file() and build_tokenizer.is_file():
        vocab = lambda f: json.loads(f.read_text()).get("model", {}).get("vocab")  # noqa: E731
        if vocab(theirs) != vocab(build_tokenizer):
            raise HFImportError(
                f"--init-from {folder}: its tokenizer.json maps tokens to other ids than this build's "
                f"({build_tokenizer}); build the corpus with tokenizer.path: {theirs}"
            )
