"""The tokenizer a build stores with its shards: when a trained one is trained again, the
tokenizer_config.json that transformers reads beside it, and errors that name the recipe's own file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import stdlib_texts, write_jsonl

from mixer.cli import main
from mixer.shards.manifest import read_manifest
from mixer.shards.tokenizer import train_bpe

EOT = "<|endoftext|>"


def build(recipe: Path, out: Path) -> str:
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return result.output


def built_bytes(out: Path) -> dict[str, bytes]:
    """The tokenizer and every source shard and sidecar of a build, by path within it."""
    files = [*(out / "tokenizer").glob("tokenizer*.json"), *(out / "sources").rglob("*")]
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(files) if p.is_file()}


def recipe_for(tmp_path: Path, text_key: str = "text") -> Path:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "name: tok\ntokenizer: {train: {vocab_size: 400, sample_bytes: 100000}}\n"
        f'sources:\n  web: {{type: jsonl, paths: ["{tmp_path}/data/*.jsonl"], text_key: {text_key}}}\n'
    )
    return recipe


def test_inputs_rewritten_in_place_train_the_tokenizer_again(tmp_path):
    texts = stdlib_texts(40, 1500)
    write_jsonl(tmp_path / "data" / "a.jsonl", [{"text": t} for t in texts[:20]])
    recipe = recipe_for(tmp_path)
    build(recipe, tmp_path / "out")
    # the same file, other documents: the tokenizer trained on the old ones must not be reused
    write_jsonl(tmp_path / "data" / "a.jsonl", [{"text": t} for t in texts[20:]])
    again = build(recipe, tmp_path / "out")
    assert "tokenizer: training a 400-id byte-level BPE" in again
    build(recipe, tmp_path / "fresh")
    assert built_bytes(tmp_path / "out") == built_bytes(tmp_path / "fresh")
    assert "tokenizer: training" not in build(recipe, tmp_path / "out")  # and nothing changed: reused


def test_a_new_text_key_trains_the_tokenizer_again(tmp_path):
    texts = stdlib_texts(40, 1500)
    write_jsonl(
        tmp_path / "data" / "a.jsonl",
        [{"text": t, "body": b} for t, b in zip(texts[:20], texts[20:40], strict=True)],
    )
    build(recipe_for(tmp_path), tmp_path / "out")
    build(recipe_for(tmp_path, text_key="body"), tmp_path / "out")
    build(recipe_for(tmp_path, text_key="body"), tmp_path / "fresh")
    assert built_bytes(tmp_path / "out") == built_bytes(tmp_path / "fresh")
    assert read_manifest(tmp_path / "out")["tokenizer"] == read_manifest(tmp_path / "fresh")["tokenizer"]


def test_transformers_loads_the_shards_tokenizer_folder_with_its_eos(tmp_path):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    write_jsonl(tmp_path / "data" / "a.jsonl", [{"text": t} for t in stdlib_texts(10, 1500)])
    build(recipe_for(tmp_path), tmp_path / "out")
    folder = tmp_path / "out" / "tokenizer"
    eos_id = read_manifest(tmp_path / "out")["eos_id"]
    for tok in (PreTrainedTokenizerFast.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)):
        assert (tok.eos_token, tok.eos_token_id) == (EOT, eos_id)
        assert (tok.bos_token, tok.bos_token_id) == (EOT, eos_id)  # documents start after an EOS
        ids = tok("def f(x):\n    return x . y")["input_ids"]
        assert eos_id not in ids  # nothing is added to what it encodes
        assert tok.decode(ids) == "def f(x):\n    return x . y"
    assert json.loads((folder / "tokenizer_config.json").read_text()) == {
        "add_bos_token": False,
        "add_eos_token": False,
        "bos_token": EOT,
        "clean_up_tokenization_spaces": False,
        "eos_token": EOT,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def path_recipe(tmp_path: Path, tokenizer: Path, eos: str | None = None) -> Path:
    write_jsonl(tmp_path / "data" / "a.jsonl", [{"text": t} for t in stdlib_texts(5, 500)])
    recipe = tmp_path / "recipe.yaml"
    eos_line = f"  eos: '{eos}'\n" if eos else ""
    recipe.write_text(
        f"name: tok\ntokenizer:\n  path: {tokenizer}\n{eos_line}"
        f'sources:\n  web: {{type: jsonl, paths: ["{tmp_path}/data/*.jsonl"]}}\n'
    )
    return recipe


def test_an_eos_the_recipe_no_longer_names_is_detected_as_in_a_fresh_build(tmp_path):
    tokenizer = train_bpe(
        stdlib_texts(5, 500), vocab_size=300, special_tokens=("</s>", EOT), out_path=tmp_path / "t.json"
    )
    build(path_recipe(tmp_path, tokenizer, eos="</s>"), tmp_path / "out")
    assert read_manifest(tmp_path / "out")["tokenizer"]["eos_token"] == "</s>"
    # the config written for "</s>" must not decide the detection once the recipe leaves eos unset
    build(path_recipe(tmp_path, tokenizer), tmp_path / "out")
    build(path_recipe(tmp_path, tokenizer), tmp_path / "fresh")
    assert read_manifest(tmp_path / "out")["tokenizer"]["eos_token"] == EOT
    assert built_bytes(tmp_path / "out") == built_bytes(tmp_path / "fresh")


@pytest.mark.parametrize(
    ("content", "eos", "expected"),
    [
        (
            '{"not": "a tokenizer"}',
            None,
            "tokenizer.path: {file} is not a Hugging Face tokenizer.json (no 'model' object); give the "
            "tokenizer.json that `tokenizers` saves (Tokenizer.save)",
        ),
        (
            None,
            "<nope>",
            "tokenizer.eos: '<nope>' is not a token of {file}; its special tokens are '<|endoftext|>'. "
            "Set tokenizer.eos to the one that ends a document",
        ),
    ],
)
def test_tokenizer_errors_name_the_recipes_file_not_the_builds_copy(tmp_path, content, eos, expected):
    tokenizer = tmp_path / "mine" / "tokenizer.json"
    if content is None:
        train_bpe(stdlib_texts(5, 500), vocab_size=300, out_path=tokenizer)
    else:
        tokenizer.parent.mkdir()
        tokenizer.write_text(content)
    result = CliRunner().invoke(
        main, ["build", str(path_recipe(tmp_path, tokenizer, eos)), "-o", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert result.output == "Error: tokenizer: " + expected.format(file=tokenizer) + "\n"
