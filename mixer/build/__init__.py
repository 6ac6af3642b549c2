"""``mixer build`` and ``mixer mix``: from a planned recipe to source shards, blends and the manifest.

- :mod:`mixer.build.plan`: what is decided before any work (inputs, steps, the output folder);
- :mod:`mixer.build.tokenizer_setup`: the build's tokenizer (given, from the hub, or trained);
- :mod:`mixer.build.engine`: datatrove's executors (local, Slurm, Ray);
- :mod:`mixer.build.stages`: the pipeline's own steps (quality, dedup, tokenize and write parts);
- :mod:`mixer.build.assemble`: parts into ``sources/<source>/`` shards;
- :mod:`mixer.build.lock`: one build of an output folder at a time;
- :mod:`mixer.build.run`: the build and the mix end to end.
"""

from __future__ import annotations

from typing import Any

# Imported on first use: a pool worker imports modules of this package (the pipeline's steps) and should not
# pay for the planning and mixing code (numba, the recipe's phases) it never runs.
_EXPORTS = {
    "BuildPlan": "mixer.build.plan",
    "SourcePlan": "mixer.build.plan",
    "default_output": "mixer.build.plan",
    "describe_plan": "mixer.build.plan",
    "plan_build": "mixer.build.plan",
    "BuildOptions": "mixer.build.run",
    "run_build": "mixer.build.run",
    "run_mix": "mixer.build.run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mixer.build' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
