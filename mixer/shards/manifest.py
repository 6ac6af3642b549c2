"""Reading a build's ``manifest.json`` (written by :mod:`mixer.build`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mixer.errors import MixerError

REQUIRED_KEYS = ("recipe", "tokenizer", "dtype", "sources", "totals")


def read_manifest(folder: Path) -> dict[str, Any]:
    """The build's manifest, checked for the keys that inspect, report and the trainer read."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        if (Path(folder) / "work" / "recipe.json").is_file():
            raise MixerError(
                f"{folder}: no manifest.json: a build or mix of it is running or was interrupted, so it is "
                "not a finished build; run the same `mixer build RECIPE` again to finish it (what is done is "
                "kept)"
            )
        raise MixerError(
            f"{folder}: no manifest.json, so it is not a `mixer build` output folder; pass the folder "
            "that `mixer build RECIPE` wrote (shards/<recipe name> by default), or run that build first"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise MixerError(f"{path}: not valid JSON ({e}); run `mixer build` again to rewrite it") from None
    missing = [k for k in REQUIRED_KEYS if k not in manifest] if isinstance(manifest, dict) else REQUIRED_KEYS
    if missing:
        raise MixerError(
            f"{path}: lacks {', '.join(missing)}; it was not written by this mixer: run `mixer build` again"
        )
    return manifest
