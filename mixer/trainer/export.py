"""Export a trained GPT as a Hugging Face `transformers` Llama checkpoint (`LlamaForCausalLM`).

Our network is a Llama in all but the parameter names: RMSNorm, pre-norm blocks, SwiGLU with gate/up/down,
no biases, grouped-query attention, and rotary embeddings that pair dimension i with i + head_dim/2 (the
"GPT-NeoX" half-split that Hugging Face's Llama uses). So the export only renames tensors, slices off the
padded vocabulary rows and writes a config; the query and key projections need no permutation (the one
Meta's original interleaved-pair checkpoints need on their way into HF). tests/trainer/test_export.py checks
this by comparing logits of the exported model, loaded by `transformers`, with ours.

`export_hf(config, state_dict, out)` writes the folder `out`:

    config.json             LlamaForCausalLM config; vocab_size is the real vocabulary (config.vocab_size)
    generation_config.json  bos/eos token ids
    model.safetensors       the weights, one file, in the requested dtype
    tokenizer.json          with tokenizer_dir: the tokenizer, copied byte for byte
    tokenizer_config.json   with tokenizer_dir: PreTrainedTokenizerFast, its EOS token, no tokens added

Weight names (i = block index; V = config.vocab_size, the padded rows V.. are dropped):

    mixer (GPT.state_dict())       Hugging Face Llama                          shape
    tok_embeddings.weight[:V]      model.embed_tokens.weight                   (V, d)
    blocks.i.attn_norm.weight      model.layers.i.input_layernorm.weight       (d,)
    blocks.i.attn.wq.weight        model.layers.i.self_attn.q_proj.weight      (n_heads * hd, d)
    blocks.i.attn.wk.weight        model.layers.i.self_attn.k_proj.weight      (kv_heads * hd, d)
    blocks.i.attn.wv.weight        model.layers.i.self_attn.v_proj.weight      (kv_heads * hd, d)
    blocks.i.attn.wo.weight        model.layers.i.self_attn.o_proj.weight      (d, n_heads * hd)
    blocks.i.mlp_norm.weight       model.layers.i.post_attention_layernorm.weight  (d,)
    blocks.i.mlp.gate.weight       model.layers.i.mlp.gate_proj.weight         (hidden, d)
    blocks.i.mlp.up.weight         model.layers.i.mlp.up_proj.weight           (hidden, d)
    blocks.i.mlp.down.weight       model.layers.i.mlp.down_proj.weight         (d, hidden)
    norm.weight                    model.norm.weight                           (d,)
    lm_head.weight[:V]             lm_head.weight  (absent when tied)          (V, d)

With tied embeddings only `model.embed_tokens.weight` is written and config.json says
`tie_word_embeddings: true`; `transformers` then shares it with the head, as its own `save_pretrained` does.

Special tokens. The trainer never prepends a BOS token: every document follows the previous one's EOS. So
the EOS token is also declared the BOS token (as GPT-2 and Pythia do), which is the context that
lm-evaluation-harness puts before an empty prompt, and the tokenizer adds no special tokens to what it
encodes. Unlike the build's encoder, a `transformers` tokenizer turns a literal "<|endoftext|>" in text into
the EOS id.

Evaluate the export with lm-evaluation-harness (https://github.com/EleutherAI/lm-evaluation-harness), after
`mixer export-hf <checkpoint> out/` or `export_hf(config, state_dict, "out/", tokenizer_dir=...)`:

    lm_eval --model hf --model_args pretrained=out/,dtype=float32 \\
        --tasks hellaswag,arc_easy,piqa --batch_size 16 --device cuda:0

An export without a tokenizer needs `tokenizer=<folder holding tokenizer.json>` added to `--model_args`. Or
load it directly: `AutoModelForCausalLM.from_pretrained("out/")`, `AutoTokenizer.from_pretrained("out/")`.

The export needs torch and safetensors only; `transformers` is needed to load the result, not to write it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import torch

from mixer.atomic import replace_dir, write_json_atomic
from mixer.errors import MissingDependency, MixerError
from mixer.trainer.model import ModelConfig


class ExportError(MixerError, ValueError):
    """The export cannot be written as asked (output folder in use, weights not matching the config...)."""


# the export dtypes by name, as `mixer export-hf --dtype` takes them
TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def export_hf(
    config: ModelConfig,
    state_dict: Mapping[str, torch.Tensor],
    out: str | Path,
    *,
    tokenizer_dir: str | Path | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write `GPT(config)`'s weights `state_dict` as a Hugging Face Llama checkpoint folder `out`; return it.

    `out` must not exist or be an empty folder. The folder appears whole or not at all: everything is written
    into a hidden sibling folder first and renamed into place. `tokenizer_dir`: a folder holding the build's
    `tokenizer.json` (`<build output>/tokenizer`); its EOS token is found as the build finds it. `dtype`:
    the floating-point type of the written weights (float32, bfloat16 or float16).
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(
            f"export output {out} already exists and is not an empty folder; "
            "choose a new folder or remove this one"
        )
    if not dtype.is_floating_point:
        raise ExportError(f"export dtype must be a floating-point type such as torch.bfloat16, got {dtype}")
    tensors = hf_state_dict(config, state_dict, dtype)
    tokenizer = _tokenizer(tokenizer_dir, config) if tokenizer_dir is not None else None
    eos_id = tokenizer[2] if tokenizer else None

    try:
        from safetensors.torch import save_file
    except ImportError:
        raise MissingDependency("safetensors", "exporting a Hugging Face checkpoint", extra="train") from None

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)  # left by an export of this pid that was killed
    tmp.mkdir()
    try:
        # "format": "pt" marks the tensors as PyTorch's, as transformers' own save_pretrained does.
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        write_json_atomic(tmp / "config.json", hf_config(config, dtype, eos_id))
        write_json_atomic(
            tmp / "generation_config.json",
            {"_from_model_config": True, "bos_token_id": eos_id, "eos_token_id": eos_id},
        )
        if tokenizer is not None:
            file, eos_token, _ = tokenizer
            shutil.copyfile(file, tmp / "tokenizer.json")
            write_json_atomic(tmp / "tokenizer_config.json", _tokenizer_config(eos_token, config.seq_len))
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def hf_state_dict(
    config: ModelConfig, state_dict: Mapping[str, torch.Tensor], dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """`state_dict` under Hugging Face Llama names (see the module docstring), on the CPU, contiguous, in
    `dtype`, without the padded vocabulary rows; the head is left out when the embeddings are tied."""
    expected = _expected_shapes(config)
    missing = [
        k for k in expected if k not in state_dict and not (k == "lm_head.weight" and config.tie_embeddings)
    ]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        hint = ""
        if any(k.startswith(("_orig_mod.", "module.")) for k in unexpected):
            hint = " (strip the '_orig_mod.' or 'module.' prefix that torch.compile or DDP adds to the names)"
        raise ExportError(
            f"the state dict does not match GPT(config): missing {missing or 'none'}, "
            f"unexpected {unexpected[:8] or 'none'}{hint}"
        )
    for name, shape in expected.items():
        if name in state_dict and tuple(state_dict[name].shape) != shape:
            raise ExportError(
                f"state dict tensor {name} has shape {tuple(state_dict[name].shape)} but the config gives "
                f"{shape}; export with the ModelConfig the checkpoint was trained with"
            )
    vocab = config.vocab_size
    if config.tie_embeddings and "lm_head.weight" in state_dict:
        if not torch.equal(state_dict["lm_head.weight"][:vocab], state_dict["tok_embeddings.weight"][:vocab]):
            raise ExportError(
                "config.tie_embeddings is true but lm_head.weight differs from tok_embeddings.weight: "
                "this checkpoint was trained untied; export it with tie_embeddings=False"
            )

    names = {"tok_embeddings.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight"}
    if not config.tie_embeddings:
        names["lm_head.weight"] = "lm_head.weight"
    for i in range(config.n_layers):
        ours, theirs = f"blocks.{i}.", f"model.layers.{i}."
        for a, b in _BLOCK_NAMES.items():
            names[ours + a] = theirs + b
    out = {}
    for ours, theirs in names.items():
        tensor = state_dict[ours].detach()
        if ours in ("tok_embeddings.weight", "lm_head.weight"):
            tensor = tensor[:vocab]  # the padded rows are no tokens (see ModelConfig.padded_vocab_size)
        out[theirs] = tensor.to(device="cpu", dtype=dtype).contiguous()
    return out


def hf_config(config: ModelConfig, dtype: torch.dtype = torch.float32, eos_id: int | None = None) -> dict:
    """The `config.json` of the exported `LlamaForCausalLM`.

    Written for transformers 4.x and 5.x alike: 5.x reads `rope_parameters` and `dtype`, 4.x `rope_theta`,
    `rope_scaling` and `torch_dtype`; each ignores the other's keys or converts them to its own.
    """
    dtype_name = str(dtype).removeprefix("torch.")
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": config.vocab_size,
        "hidden_size": config.d_model,
        "intermediate_size": config.hidden_size,
        "num_hidden_layers": config.n_layers,
        "num_attention_heads": config.n_heads,
        "num_key_value_heads": config.kv_heads,
        "head_dim": config.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": config.seq_len,
        "rms_norm_eps": config.norm_eps,
        "rope_theta": config.rope_theta,
        "rope_scaling": None,
        "rope_parameters": {"rope_type": "default", "rope_theta": config.rope_theta},
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "tie_word_embeddings": config.tie_embeddings,
        "initializer_range": 0.02,
        "pretraining_tp": 1,
        "use_cache": True,
        "bos_token_id": eos_id,
        "eos_token_id": eos_id,
        "pad_token_id": None,
        "torch_dtype": dtype_name,
        "dtype": dtype_name,
    }


_BLOCK_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn.wq.weight": "self_attn.q_proj.weight",
    "attn.wk.weight": "self_attn.k_proj.weight",
    "attn.wv.weight": "self_attn.v_proj.weight",
    "attn.wo.weight": "self_attn.o_proj.weight",
    "mlp_norm.weight": "post_attention_layernorm.weight",
    "mlp.gate.weight": "mlp.gate_proj.weight",
    "mlp.up.weight": "mlp.up_proj.weight",
    "mlp.down.weight": "mlp.down_proj.weight",
}


def _expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every name in `GPT(config).state_dict()` and its shape."""
    d, h, kv = config.d_model, config.hidden_size, config.kv_heads * config.head_dim
    block = {
        "attn_norm.weight": (d,),
        "attn.wq.weight": (d, d),
        "attn.wk.weight": (kv, d),
        "attn.wv.weight": (kv, d),
        "attn.wo.weight": (d, d),
        "mlp_norm.weight": (d,),
        "mlp.gate.weight": (h, d),
        "mlp.up.weight": (h, d),
        "mlp.down.weight": (d, h),
    }
    shapes = {"tok_embeddings.weight": (config.padded_vocab_size, d)}
    for i in range(config.n_layers):
        shapes.update({f"blocks.{i}.{name}": shape for name, shape in block.items()})
    shapes["norm.weight"] = (d,)
    shapes["lm_head.weight"] = (config.padded_vocab_size, d)
    return shapes


def _tokenizer(tokenizer_dir: str | Path, config: ModelConfig) -> tuple[Path, str, int]:
    """(tokenizer.json, EOS token, EOS id) of the tokenizer in `tokenizer_dir`, checked against the model."""
    folder = Path(tokenizer_dir)
    file = folder if folder.name == "tokenizer.json" and folder.is_file() else folder / "tokenizer.json"
    if not file.is_file():
        raise ExportError(
            f"tokenizer_dir {folder} holds no tokenizer.json; give the build's tokenizer folder "
            "(<build output>/tokenizer) or leave the tokenizer out"
        )
    # Imported here: the build's tokenizer module needs `tokenizers`, which the trainer does not.
    from mixer.shards.tokenizer import load_tokenizer_info

    info = load_tokenizer_info(file, backend="hf")  # "hf": no tiktoken conversion, only the EOS is wanted
    if info.vocab_size > config.vocab_size:
        raise ExportError(
            f"the tokenizer {file} has {info.vocab_size} ids but the model only {config.vocab_size}; "
            "give the tokenizer the model was trained with"
        )
    return file, info.eos_token, info.eos_id


def _tokenizer_config(eos_token: str, seq_len: int) -> dict:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": eos_token,
        "bos_token": eos_token,  # see "Special tokens" in the module docstring
        "add_bos_token": False,
        "add_eos_token": False,
        # Decode to exactly the encoded text: the clean-up would turn "a ." into "a.".
        "clean_up_tokenization_spaces": False,
        "model_max_length": seq_len,
    }
