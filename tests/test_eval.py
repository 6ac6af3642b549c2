"""Evaluation parts: HumanEval scoring through the sandbox, lm-evaluation-harness on a local task, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mixer.eval.humaneval import STOP_SEQUENCES, load_problems, score
from mixer.eval.lm_harness import TaskUnavailable, score_tasks
from mixer.eval.settings import HumanEvalSettings, LmEvalSettings

CLOZE = [
    ("The sun rises in the", [" east", " west"], 0),
    ("Fish live in", [" water", " trees"], 0),
    ("Snow is", [" white", " green"], 0),
]


def canonical_generator(calls: list):
    """Completions as a model that knows HumanEval would write them: the canonical solution, then more code."""
    solutions = {p.prompt: p.canonical_solution for p in load_problems()}

    def generate(prompt, samples=1, **options):
        calls.append((samples, options["stop"], options["seed"]))
        # what follows a completion is cut at the stop sequences before it is verified
        return [solutions[prompt] + "\n\ndef unrelated():\n    raise SystemExit(0)\n"] * samples

    return generate


def test_humaneval_pass_at_1_of_the_canonical_completions():
    calls: list = []
    result = score(canonical_generator(calls), HumanEvalSettings(problems=3), echo=lambda s: None)
    assert result == {
        "problems": 3,
        "pass@1": 1.0,
        "passed": ["HumanEval/0", "HumanEval/1", "HumanEval/2"],
        "reasons": {"passed": 3},
    }
    assert calls == [(1, STOP_SEQUENCES, 0), (1, STOP_SEQUENCES, 1), (1, STOP_SEQUENCES, 2)]


def test_humaneval_pass_at_k_counts_each_sample():
    problems = {p.prompt: p for p in load_problems()[:2]}

    def generate(prompt, samples=1, **options):
        good = problems[prompt].canonical_solution
        if samples == 1:
            return ["    return None\n"]  # greedy is wrong
        return [good, "    return None\n", good, "    pass\n"][:samples]  # 2 of 4 sampled are right

    settings = HumanEvalSettings(problems=2, samples=4, k=[1, 2, 4])
    result = score(generate, settings, echo=lambda s: None)
    assert result["pass@1"] == 0.0 and result["reasons"] == {"failed_test": 2}
    assert result["sampled"] == {
        "n": 4,
        "temperature": 0.8,
        "top_p": 0.95,
        "pass@1": 0.5,
        "pass@2": pytest.approx(1 - 1 / 6),  # 1 - C(2,2)/C(4,2)
        "pass@4": 1.0,
    }


def test_humaneval_k_above_samples_is_refused():
    with pytest.raises(ValueError, match="pass@5 needs at least 5 samples per problem; samples is 2"):
        score(lambda *a, **k: [], HumanEvalSettings(problems=1, samples=2, k=[1, 5]), echo=lambda s: None)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A random two-layer Llama with a byte-level BPE tokenizer, as `mixer export-hf` writes one."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("model")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator([q + c for q, cs, _ in CLOZE for c in cs] * 20, trainer)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"}
        )
    )
    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128, bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def local_task(folder: Path, name: str = "tiny_cloze", data: str | None = "tiny.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "tiny.jsonl", "w") as f:
        for q, choices, label in CLOZE:
            f.write(json.dumps({"question": q, "choices": choices, "label": label}) + "\n")
    (folder / f"{name}.yaml").write_text(
        f"task: {name}\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\ntest_split: test\n"
        "output_type: multiple_choice\ndoc_to_text: '{{question}}'\ndoc_to_choice: '{{choices}}'\n"
        "doc_to_target: label\nmetric_list:\n  - metric: acc\n"
    )
    return folder


@pytest.mark.slow
def test_lm_eval_scores_a_local_task_offline(tiny_model, tmp_path):
    tasks = local_task(tmp_path / "tasks")
    settings = LmEvalSettings(tasks=["tiny_cloze"], include_path=str(tasks), categories={"tiny_cloze": "reasoning"})
    result = score_tasks(tiny_model, settings, device="cpu")
    assert list(result) == ["tiny_cloze"]
    row = result["tiny_cloze"]
    assert (row["metric"], row["category"], row["documents"]) == ("acc", "reasoning", 3)
    assert row["score"] in (0.0, 1 / 3, 2 / 3, 1.0)  # three documents, each right or wrong


def test_unknown_and_unavailable_tasks_fail_before_any_model_loads(tmp_path):
    tasks = local_task(tmp_path / "tasks")
    local_task(tmp_path / "tasks", name="needs_hub", data="absent/on/disk.jsonl")
    model = tmp_path / "no-model-here"  # never opened: the tasks are checked first
    with pytest.raises(TaskUnavailable, match="unknown task 'hellaswog': not one of lm-evaluation-harness's"):
        score_tasks(model, LmEvalSettings(tasks=["hellaswog"], include_path=str(tasks)))
    with pytest.raises(TaskUnavailable, match="the data of task 'needs_hub' is not available offline"):
        score_tasks(model, LmEvalSettings(tasks=["tiny_cloze", "needs_hub"], include_path=str(tasks)))


def test_a_missing_extra_names_what_to_install(tmp_path):
    script = f"""
import sys
sys.modules["lm_eval"] = None
from mixer.errors import MixerError
from mixer.eval.lm_harness import score_tasks
from mixer.eval.settings import LmEvalSettings
try:
    score_tasks({str(tmp_path)!r}, LmEvalSettings(tasks=["x"]))
except MixerError as e:
    print(e)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.strip().endswith("run `pip install 'mixer[eval]'`"), out.stdout + out.stderr
