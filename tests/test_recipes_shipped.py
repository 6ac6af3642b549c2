"""The recipes shipped under recipes/ load, and their phases have the shares their comments claim."""

from pathlib import Path

import pytest

from mixer.recipe import load_recipe
from mixer.study.spec import load_study

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
CODE = {"code", "markup"}  # "code" in the paper's sense
HIGH_QUALITY_CODE = {"synthetic", "commits", "pull_requests"}


def code_share(weights: dict[str, float]) -> float:
    return sum(w for n, w in weights.items() if n in CODE | HIGH_QUALITY_CODE) / sum(weights.values())


STUDIES = sorted((RECIPES / "paper").glob("*study*.yaml"))
CORPORA = sorted((RECIPES / "paper").glob("*corpus.yaml"))
TASKS = RECIPES / "paper" / "tasks"


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(RECIPES.rglob("*.yaml")) if p not in STUDIES and TASKS not in p.parents],
    ids=lambda p: p.name,
)
def test_every_shipped_recipe_loads(path):
    recipe = load_recipe(path)
    assert recipe.phases or path in CORPORA, f"{path.name} has no phases"


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_every_shipped_study_loads_with_the_papers_five_mixtures(path):
    study = load_study(path)
    assert list(study.mixtures) == ["text-only", "code-25", "balanced", "code-only", "balanced-to-text"]


@pytest.mark.parametrize("study_file", STUDIES, ids=lambda p: p.name)
@pytest.mark.parametrize(
    ("name", "phase", "share"),
    [
        ("text-only", "pretrain", 0.0),
        ("text-only", "cooldown", 0.0),
        ("code-25", "pretrain", 0.25),
        ("balanced", "pretrain", 0.50),
        ("code-only", "pretrain", 1.0),
        ("code-only", "cooldown", 1.0),
        ("balanced-to-text", "init", 0.50),
        ("balanced-to-text", "continue", 0.10),
        ("code-25", "cooldown", 0.20),
        ("balanced", "cooldown", 0.20),
        ("balanced-to-text", "cooldown", 0.20),
    ],
)
def test_paper_mixtures_have_the_papers_code_shares(study_file, name, phase, share):
    recipe = load_study(study_file).mixtures[name]
    assert code_share(recipe.phases[phase].weights) == pytest.approx(share)


@pytest.mark.parametrize("study_file", STUDIES, ids=lambda p: p.name)
@pytest.mark.parametrize("name", ["code-25", "balanced", "balanced-to-text", "text-only", "code-only"])
def test_cooldown_is_a_tenth_of_pretraining(study_file, name):
    recipe = load_study(study_file).mixtures[name]
    phases = list(recipe.phases)
    assert phases[-1] == "cooldown"
    pretraining = sum(recipe.phases[p].tokens for p in phases[:-1])
    assert recipe.phases["cooldown"].tokens == pretraining // 10


def test_demo_recipe_uses_every_source_kind_with_the_papers_code_shares():
    recipe = load_recipe(RECIPES / "demo.yaml")
    kinds = {source.type for source in recipe.sources.values()}
    assert {"jsonl", "parquet", "text", "code", "git_commits", "github_prs", "verified_python"} <= kinds
    assert HIGH_QUALITY_CODE <= set(recipe.sources)
    assert code_share(recipe.phases["pretrain"].weights) == pytest.approx(0.25)
    assert code_share(recipe.phases["cooldown"].weights) == pytest.approx(0.20)
    pretrain, cooldown = (recipe.phases[p].weights for p in ("pretrain", "cooldown"))
    for name in ("pydoc", "synthetic", "pull_requests"):  # the cooldown up-weights high-quality sources
        assert cooldown[name] / sum(cooldown.values()) > pretrain[name] / sum(pretrain.values())


def test_demo_web_text_runs_the_fineweb_style_quality_steps():
    from mixer.filters.steps import check_params

    web = load_recipe(RECIPES / "demo.yaml").sources["web"]
    steps = web.steps()
    assert [s.name for s in steps] == [
        "language",
        "gopher_repetition",
        "gopher_quality",
        "c4_quality",
        "fineweb_quality",
        "pii",
    ]
    assert [check_params(s) for s in steps] == [[]] * 6  # the tuned thresholds are valid parameters
    c4 = steps[3].params
    assert (c4["filter_no_terminal_punct"], c4["filter_curly_bracket"]) == (False, False)
