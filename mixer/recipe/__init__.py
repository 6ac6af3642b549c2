"""The recipe: sources, tokenizer, dedup, holdout and phases, validated and hashed (``mixer/recipe/model.py``).

    recipe = load_recipe("recipe.yaml")   # RecipeError names every bad key, its line and the fix

:mod:`mixer.recipe.yamlload` reads YAML keeping each key's line. Importing the recipe needs pydantic and
pyyaml only, so the trainer can load it on a machine without the build stack.
"""

from mixer.recipe.model import (
    MODEL_PRESETS,
    NAME_PATTERN,
    BuildSettings,
    DedupConfig,
    ExecutorConfig,
    HoldoutConfig,
    NearDedupConfig,
    PhaseConfig,
    RaySettings,
    Recipe,
    RecipeBase,
    SlurmSettings,
    TokenizerConfig,
    TokenizerTraining,
    TrainSettings,
    load_recipe,
    parse_recipe,
    recipe_json_schema,
    recipe_model,
)

__all__ = [
    "MODEL_PRESETS",
    "NAME_PATTERN",
    "BuildSettings",
    "DedupConfig",
    "ExecutorConfig",
    "HoldoutConfig",
    "NearDedupConfig",
    "PhaseConfig",
    "RaySettings",
    "Recipe",
    "RecipeBase",
    "SlurmSettings",
    "TokenizerConfig",
    "TokenizerTraining",
    "TrainSettings",
    "load_recipe",
    "parse_recipe",
    "recipe_json_schema",
    "recipe_model",
]
