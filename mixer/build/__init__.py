"""``mixer build`` and ``mixer mix``: from a planned recipe to source shards, blends and the manifest.

- :mod:`mixer.build.plan`: what is decided before any work (inputs, steps, the output folder);
- :mod:`mixer.build.tokenizer_setup`: the build's tokenizer (given, from the hub, or trained);
- :mod:`mixer.build.engine`: datatrove's executors (local, Slurm, Ray);
- :mod:`mixer.build.stages`: the pipeline's own steps (quality, dedup, tokenize and write parts);
- :mod:`mixer.build.assemble`: parts into ``sources/<source>/`` shards;
- :mod:`mixer.build.lock`: one build of an output folder at a time;
- :mod:`mixer.build.run`: the build and the mix end to end.
"""

from mixer.build.plan import BuildPlan, SourcePlan, default_output, describe_plan, plan_build
from mixer.build.run import BuildOptions, run_build, run_mix

__all__ = [
    "BuildOptions",
    "BuildPlan",
    "SourcePlan",
    "default_output",
    "describe_plan",
    "plan_build",
    "run_build",
    "run_mix",
]
