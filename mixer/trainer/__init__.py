"""The trainer: a GPT (`model`) and its learning-rate schedules (`schedule`), read from mixer's on-disk shards.

The model, its loss and the schedules need torch alone; the whole trainer needs torch, numpy, pyyaml, click
and pydantic, never the build stack (datatrove, tokenizers, ...), which GPU machines often lack. Without
torch (the `train` extra) importing any part of the trainer fails with `MissingDependency`, which names what
to install, instead of an ImportError from deep inside a module.
"""

from importlib.util import find_spec

from mixer.errors import MissingDependency

if find_spec("torch") is None:
    raise MissingDependency("torch", "the trainer (`mixer train`)", extra="train")
