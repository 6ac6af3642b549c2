"""Studies: one corpus, many mixtures blended beside it without reading source text again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import recipe_text

from mixer.cli import main
from mixer.errors import RecipeError
from mixer.recipe import load_recipe
from mixer.shards.verify import verify_output
from mixer.study.mixtures import blend_mixture
from mixer.study.spec import load_study

MIXTURES = """\
mixtures:
  text:
    phases:
      pretrain: {tokens: 3000, seq_len: 32, weights: {web: 0.9, notes: 0.1}, max_repetition: 8}
      cooldown: {tokens: 600, seq_len: 32, weights: {web: 0.5, code: 0.5}, max_repetition: 8}
  code:
    phases:
      pretrain: {tokens: 3000, seq_len: 32, weights: {web: 0.5, code: 0.5}, max_repetition: 8}
"""


def write_study(root: Path, corpus_root: Path, mixtures: str = MIXTURES) -> Path:
    (root / "corpus.yaml").write_text(recipe_text(corpus_root, name="corpus", extra="holdout: {fraction: 0.1}\n"))
    study = root / "study.yaml"
    study.write_text(f"name: s\ncorpus: corpus.yaml\ntrain: {{model: tiny}}\n{mixtures}")
    return study


def blend_files(folder: Path, phase: str) -> dict[str, bytes]:
    # megatron.args names the folder it was written in; everything else must be the same bytes
    return {p.name: p.read_bytes() for p in sorted((folder / "phases" / phase).iterdir()) if p.name != "megatron.args"}


def test_mixtures_blend_beside_the_corpus_without_its_inputs(tmp_path, corpus, monkeypatch):
    inputs = tmp_path / "inputs"
    shutil.copytree(corpus["root"], inputs)
    study_file = write_study(tmp_path, inputs)
    monkeypatch.chdir(tmp_path)
    study = load_study(study_file)
    assert list(study.mixtures) == ["text", "code"]
    assert study.mixtures["text"].name == "s-text"
    assert study.mixtures["text"].phases["cooldown"].train.model == "tiny"  # the study's defaults

    result = CliRunner().invoke(main, ["build", str(study.corpus_path), "--tasks", "1"])
    assert result.exit_code == 0, result.output
    corpus_out = tmp_path / "shards" / "corpus"
    text = blend_mixture(corpus_out, study.mixtures["text"], "text", echo=lambda s: None)
    shutil.rmtree(inputs)  # the second mixture reads the corpus's shards only
    code = blend_mixture(corpus_out, study.mixtures["code"], "code", echo=lambda s: None)

    assert text == corpus_out / "mixtures" / "text" and code == corpus_out / "mixtures" / "code"
    for view in (text, code):
        assert {p.name for p in view.iterdir()} == {
            "manifest.json", "recipe.yaml", "phases", "sources", "tokenizer", "validation", "work",
        }  # fmt: skip
        assert all((view / n).is_symlink() for n in ("sources", "tokenizer", "validation"))
        assert verify_output(view)["phases"] == len(load_recipe(view / "recipe.yaml").phases)

    # the same bytes as a full build of a recipe with those phases
    shutil.copytree(corpus["root"], inputs)
    full = tmp_path / "full.yaml"
    phases = "phases:\n" + MIXTURES.split("text:\n    phases:\n")[1].split("  code:")[0]
    full.write_text(recipe_text(inputs, name="corpus", extra="holdout: {fraction: 0.1}\n" + phases))
    result = CliRunner().invoke(main, ["build", str(full), "-o", str(tmp_path / "full"), "--tasks", "1"])
    assert result.exit_code == 0, result.output
    for phase in ("pretrain", "cooldown"):
        assert blend_files(text, phase) == blend_files(tmp_path / "full", phase)


def test_a_mixture_naming_an_unknown_source_fails_at_its_key(tmp_path, corpus):
    study_file = write_study(
        tmp_path,
        corpus["root"],
        "mixtures:\n  text:\n    phases:\n      pretrain: {tokens: 3000, seq_len: 32, weights: {web: 1, cod: 1}}\n",
    )
    with pytest.raises(RecipeError) as caught:
        load_study(study_file)
    assert caught.value.problems == [
        "mixtures.text.phases.pretrain.weights.cod (line 7): no source named 'cod'; sources: web, code, notes"
    ]


def test_study_keys_are_checked(tmp_path, corpus):
    study_file = write_study(tmp_path, corpus["root"])
    study_file.write_text(study_file.read_text().replace("train: {model: tiny}", "trian: {model: tiny}"))
    with pytest.raises(RecipeError) as caught:
        load_study(study_file)
    assert caught.value.problems == ["trian (line 3): unknown key 'trian'; remove it or check its spelling"]


E2E_MIXTURES = """\
mixtures:
  text:
    phases:
      pretrain: {tokens: 2048, seq_len: 32, weights: {web: 0.9, notes: 0.1}, max_repetition: 8}
      cooldown: {tokens: 512, seq_len: 32, weights: {web: 0.5, code: 0.5}, max_repetition: 8}
  code:
    phases:
      pretrain: {tokens: 2048, seq_len: 32, weights: {web: 0.5, code: 0.5}, max_repetition: 8}
"""
E2E_TRAIN = "train: {model: tiny, global_batch_tokens: 256, micro_batch: 4, eval_tokens: 512, compile: false}\n"


@pytest.mark.slow
def test_a_study_trains_evaluates_compares_and_resumes(tmp_path, corpus, monkeypatch):
    from test_eval import local_task

    study_file = write_study(tmp_path, corpus["root"], E2E_MIXTURES)
    local_task(tmp_path / "tasks")
    study_file.write_text(
        study_file.read_text().replace("train: {model: tiny}\n", E2E_TRAIN)
        + "evaluate:\n  humaneval: {problems: 1, max_new_tokens: 8}\n"
        "  lm_eval: {tasks: [tiny_cloze], include_path: tasks, categories: {tiny_cloze: reasoning}}\n"
    )
    monkeypatch.chdir(tmp_path)
    dry = CliRunner().invoke(main, ["study", str(study_file), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert [line.split("]")[0] for line in dry.output.splitlines()[1:-1]] == ["[to do"] * 8

    result = CliRunner().invoke(main, ["study", str(study_file)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "runs" / "s"
    report = json.loads((root / "study.json").read_text())
    assert [(r["mixture"], r["phase"]) for r in report["rows"]] == [("text", "cooldown"), ("code", "pretrain")]
    for row in report["rows"]:
        assert set(row["validation"]) == {"web", "code", "notes"}
        assert all(v["bpb"] > 0 for v in row["validation"].values())
        assert row["humaneval"]["problems"] == 1 and row["humaneval"]["pass@1"] in (0.0, 1.0)
        assert row["lm_eval"]["tiny_cloze"]["category"] == "reasoning"
        assert set(row["categories"]) == {"reasoning"}
    # the cooldown started from the pretrain's final checkpoint; a first phase from a fresh model
    state = json.loads((root / "text" / "cooldown" / "final" / "state.json").read_text())
    assert state["init_from"] == str(Path("runs") / "s" / "text" / "pretrain" / "final")
    assert state["schedule"]["kind"] == "linear_decay"
    assert json.loads((root / "code" / "pretrain" / "final" / "state.json").read_text())["init_from"] is None
    page = (root / "report.html").read_text()
    assert "HumanEval pass@1" in page and "validation bits per byte: web" in page and "tiny_cloze" in page

    again = CliRunner().invoke(main, ["study", str(study_file), "--dry-run"])
    assert [line.split("]")[0] for line in again.output.splitlines()[1:-1]] == ["[done "] * 8
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*.eval.json")}
    rerun = CliRunner().invoke(main, ["study", str(study_file)])
    assert rerun.exit_code == 0, rerun.output
    assert "training" not in rerun.output  # nothing finished is redone
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.eval.json")} == mtimes


def test_a_phase_of_another_model_shape_is_refused_at_load(tmp_path, corpus):
    mixtures = MIXTURES.replace(
        "cooldown: {tokens: 600, seq_len: 32, weights: {web: 0.5, code: 0.5}, max_repetition: 8}",
        "cooldown: {tokens: 600, seq_len: 32, weights: {web: 0.5, code: 0.5}, max_repetition: 8, train: {model: 125m}}",
    )
    with pytest.raises(RecipeError) as caught:
        load_study(write_study(tmp_path, corpus["root"], mixtures))
    assert caught.value.problems == [
        "mixtures.text.phases.cooldown.train (line 8): trains {'model': '125m', 'tie_embeddings': False} but starts "
        "from pretrain's final checkpoint, {'model': 'tiny', 'tie_embeddings': False}; give the phases of a "
        "mixture one model"
    ]
