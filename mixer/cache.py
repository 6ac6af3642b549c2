"""The user's cache: results that cost time to compute and are keyed by everything they depend on, kept
across builds and output folders (the tokenizer check's verdicts, tiktoken conversions)."""

from __future__ import annotations

import os
from pathlib import Path

ENV = "MIXER_CACHE_DIR"


def cache_dir(kind: str) -> Path | None:
    """``$MIXER_CACHE_DIR/<kind>``, else ``$XDG_CACHE_HOME/mixer/<kind>``, else ``~/.cache/mixer/<kind>``;
    None when there is no home folder to put it in. A cache that cannot be read or written only means
    computing again."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]) / kind
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "mixer" / kind
    try:
        return Path.home() / ".cache" / "mixer" / kind
    except RuntimeError:  # no home folder
        return None
