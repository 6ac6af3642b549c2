"""Many mixtures over one built corpus, without reading its source text again.

A mixture's blends live beside the corpus, in ``<corpus>/mixtures/<mixture>/``: a folder that the trainer
and every reader take for a finished build. Its ``sources/``, ``tokenizer/`` and ``validation/`` are
links to the corpus's own (the same holdout for every mixture, so their validation numbers compare); its
``phases/`` and ``manifest.json`` are its own, written by the same :func:`mixer.mixing.mix.mix` that a
build uses, from the source shards' index files alone. So a mixture costs seconds, and its blend is
byte for byte the blend a full build of the same phases would write.

    corpus = build_corpus(study)                   # mixer build of the corpus recipe (resumable)
    view = blend_mixture(corpus, recipe)           # <corpus>/mixtures/<mixture>/, up to date
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from mixer.atomic import write_json_atomic, write_text_atomic
from mixer.build.lock import output_lock
from mixer.build.plan import Echo, default_output
from mixer.errors import PlanError
from mixer.recipe import RecipeBase
from mixer.shards.manifest import read_manifest

LINKED = ("sources", "tokenizer", "validation")


def mixture_folder(corpus: Path, mixture: str) -> Path:
    return Path(corpus) / "mixtures" / mixture


def mixture_name(recipe: RecipeBase, study: str) -> str:
    return recipe.name.removeprefix(f"{study}-")


def blend_mixture(corpus: Path, recipe: RecipeBase, mixture: str, echo: Echo = print) -> Path:
    """Write (or find up to date) the mixture's blends beside the built ``corpus``; return its folder."""
    from mixer.build.run import _phase_summaries
    from mixer.mixing.mix import mix, text_bytes_counter

    corpus = Path(corpus)
    manifest = read_manifest(corpus)
    _check_same_corpus(manifest, recipe, corpus)
    folder = mixture_folder(corpus, mixture)
    folder.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = folder / name
        if not link.is_symlink():
            if link.exists():
                raise PlanError(f"{link} is not a link to the corpus's {name}/; delete {folder} and rerun")
            os.symlink(Path("..") / ".." / name, link, target_is_directory=True)
    with output_lock(folder):
        manifest_path = folder / "manifest.json"
        manifest_path.unlink(missing_ok=True)  # no manifest while its blends are being rewritten
        counter = text_bytes_counter(corpus / manifest["tokenizer"]["path"], manifest["eos_id"])
        mixed = mix(folder, recipe, manifest["dtype"], echo, counter)
        if mixed["validation"] != manifest["validation"]:  # the corpus's holdout, seen through the link
            raise PlanError(
                f"{folder}: the validation sets differ from the corpus's; delete {folder} and rerun"
            )
        view = dict(manifest)
        view["recipe"] = {
            "name": recipe.name,
            "hash": recipe.content_hash(),
            "resolved": recipe.model_dump(mode="json"),
        }
        view["phases"] = _phase_summaries(mixed["phases"])
        view["corpus"] = {
            "path": "../..",
            "recipe": manifest["recipe"]["name"],
            "hash": manifest["recipe"]["hash"],
        }
        write_text_atomic(
            folder / "recipe.yaml", yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
        )
        write_json_atomic(manifest_path, view, sort_keys=False)
    return folder


def corpus_output(corpus: RecipeBase) -> Path:
    return default_output(corpus)


def _check_same_corpus(manifest: dict[str, Any], recipe: RecipeBase, corpus: Path) -> None:
    """The mixture's recipe must be the corpus's: same sources, tokenizer, seed and holdout."""
    built = manifest["recipe"]["resolved"]
    mine = recipe.model_dump(mode="json")
    for key in ("sources", "tokenizer", "seed", "holdout", "dedup"):
        if built.get(key) != mine.get(key):
            raise PlanError(
                f"{corpus} was built from another {key} than the study's corpus recipe now says; "
                f"run `mixer build` on the corpus recipe (or the study) again"
            )


def read_view(folder: Path) -> dict[str, Any]:
    return json.loads((Path(folder) / "manifest.json").read_text())
