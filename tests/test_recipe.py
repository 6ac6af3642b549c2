import json

import pytest

from mixer.errors import RecipeError
from mixer.recipe import load_recipe, parse_recipe, recipe_json_schema

BASE = """\
name: t
tokenizer: {train: {vocab_size: 512}}
sources:
  web:
    type: jsonl
    paths: ["a/*.jsonl"]
"""


def write(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


def problems(tmp_path, text):
    with pytest.raises(RecipeError) as info:
        load_recipe(write(tmp_path, text))
    return info.value.problems


def test_valid_recipe_loads_with_defaults(tmp_path):
    r = load_recipe(write(tmp_path, BASE))
    assert r.name == "t" and r.seed == 0
    assert r.sources["web"].paths == ["a/*.jsonl"] and r.sources["web"].text_key == "text"
    assert r.tokenizer.train.vocab_size == 512 and r.tokenizer.train.special_tokens == ["<|endoftext|>"]
    assert r.executor.type == "local" and r.build.max_tokens_per_shard == 1_000_000_000


def test_tokenizer_string_is_a_path(tmp_path):
    r = load_recipe(write(tmp_path, BASE.replace("{train: {vocab_size: 512}}", "tok/tokenizer.json")))
    assert r.tokenizer.path == "tok/tokenizer.json" and r.tokenizer.train is None


def test_unknown_key_names_path_line_and_valid_keys(tmp_path):
    text = BASE + "    txt_key: body\n"
    assert problems(tmp_path, text) == [
        "sources.web.txt_key (line 7): unknown key 'txt_key'; remove it or check its spelling "
        "(valid keys for type jsonl: type, filters, paths, text_key, id_key)"
    ]


def test_unknown_top_level_key(tmp_path):
    assert problems(tmp_path, BASE + "sauces: {}\n") == [
        "sauces (line 7): unknown key 'sauces'; remove it or check its spelling "
        "(valid keys: name, description, seed, tokenizer, executor, build, holdout, phases, dedup, sources)"
    ]


def test_errors_name_list_positions(tmp_path):
    text = BASE.replace('["a/*.jsonl"]', '["a/*.jsonl", 7]')
    assert problems(tmp_path, text) == [
        "sources.web.paths[1] (line 6): Input should be a valid string (got 7)"
    ]


def test_unknown_source_kind_lists_the_valid_ones(tmp_path):
    assert problems(tmp_path, BASE.replace("type: jsonl", "type: csv")) == [
        "sources.web.type: unknown kind 'csv'; valid kinds: code, git_commits, github_prs, hf, jsonl, parquet, text, verified_python"
    ]


def test_tokenizer_needs_exactly_one_form(tmp_path):
    text = BASE.replace("{train: {vocab_size: 512}}", "{path: a.json, hub: gpt2}")
    [msg] = problems(tmp_path, text)
    assert msg.startswith("tokenizer (line 2): give exactly one of tokenizer.path")
    assert msg.endswith("got path, hub")


def test_duplicate_keys_are_refused_with_both_lines(tmp_path):
    [msg] = problems(tmp_path, BASE + "name: again\n")
    assert msg == "line 7: duplicate key 'name' (first defined on line 1); keep one of them"


def test_alias_bomb_is_refused(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 8):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        bomb += f"{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    [msg] = problems(tmp_path, bomb)
    assert "expands to more than 200000 values" in msg


def test_invalid_yaml_names_the_line(tmp_path):
    [msg] = problems(tmp_path, BASE + "  bad: [unclosed\n")
    assert msg.startswith("line 8: not valid YAML")


def test_missing_file(tmp_path):
    with pytest.raises(RecipeError, match="file not found"):
        load_recipe(tmp_path / "nope.yaml")


def test_hash_ignores_executor_but_not_content(tmp_path):
    a = parse_recipe(
        {"name": "t", "tokenizer": "x.json", "sources": {"w": {"type": "jsonl", "paths": ["a"]}}}
    )
    b = parse_recipe(a.model_dump() | {"executor": {"type": "local", "tasks": 8}})
    c = parse_recipe(a.model_dump() | {"seed": 1})
    assert a.content_hash() == b.content_hash() != c.content_hash()


def test_schema_lists_every_source_kind_and_rejects_extras():
    schema = recipe_json_schema()
    text = json.dumps(schema)
    for kind in ("jsonl", "parquet", "text", "hf"):
        assert f'"const": "{kind}"' in text
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "tokenizer", "sources"}


@pytest.mark.parametrize(
    ("written", "tokens"),
    [
        ("2000000", 2_000_000),
        ("2.0e9", 2_000_000_000),
        ("2.0e+9", 2_000_000_000),
        ("200B", 200_000_000_000),
        ("1_500_000", 1_500_000),
        ("20M", 20_000_000),
    ],
)
def test_phase_tokens_accept_scientific_and_suffixed_numbers(tmp_path, written, tokens):
    text = BASE + f"phases:\n  p: {{tokens: {written}, seq_len: 8, weights: {{web: 1}}}}\n"
    assert load_recipe(write(tmp_path, text)).phases["p"].tokens == tokens


def test_phase_errors_name_the_phase_key(tmp_path):
    text = BASE + "phases:\n  p: {tokens: 1.5, seq_len: 8, weights: {web: 0, nope: 1}}\n"
    assert problems(tmp_path, text) == [
        "phases.p.tokens (line 8): tokens must be a whole number, got 1.5",
        "phases.p.weights (line 8): weight of 'web' is 0.0; weights must be positive (leave a source out to exclude it)",
    ]
    text = BASE + "phases:\n  p: {tokens: 10, seq_len: 8, weights: {nope: 1}}\n"
    assert problems(tmp_path, text) == [
        "phases.p.weights.nope (line 8): no source named 'nope'; sources: web"
    ]


def test_a_source_name_with_a_trailing_newline_is_refused(tmp_path):
    # "$" matches before a final newline: "web\n" used to pass the name check
    text = BASE.replace("  web:\n", '  "web\\n":\n')
    assert problems(tmp_path, text) == [
        "sources (line 3): source name 'web\\n' must be letters, digits, '.', '_' or '-'"
    ]
    phase = BASE + 'phases:\n  "p\\n": {tokens: 10, seq_len: 8, weights: {web: 1}}\n'
    assert problems(tmp_path, phase) == ["phases (line 7): phase name 'p\\n' must be letters, digits, '.', '_' or '-'"]


def test_max_index_bytes_takes_the_forms_of_tokens_and_null(tmp_path):
    text = BASE + "phases:\n  p: {tokens: 10, seq_len: 8, weights: {web: 1}, max_index_bytes: 2.5e9}\n"
    assert load_recipe(write(tmp_path, text)).phases["p"].max_index_bytes == 2_500_000_000
    assert (
        load_recipe(write(tmp_path, BASE + "phases:\n  p: {tokens: 10, seq_len: 8, weights: {web: 1}}\n"))
        .phases["p"]
        .max_index_bytes
        == 4_000_000_000
    )
    text = BASE + "phases:\n  p: {tokens: 10, seq_len: 8, weights: {web: 1}, max_index_bytes: null}\n"
    recipe = load_recipe(write(tmp_path, text))
    assert recipe.phases["p"].max_index_bytes is None
    # the bound does not change what is built: the recipe's hash ignores it
    other = load_recipe(write(tmp_path, BASE + "phases:\n  p: {tokens: 10, seq_len: 8, weights: {web: 1}}\n"))
    assert recipe.content_hash() == other.content_hash()
    text = BASE + "phases:\n  p: {tokens: 10, seq_len: 8, weights: {web: 1}, max_index_bytes: 1.5}\n"
    assert problems(tmp_path, text) == [
        "phases.p.max_index_bytes (line 8): max_index_bytes must be a whole number, got 1.5"
    ]
