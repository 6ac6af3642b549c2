"""Trainer tests run on one CPU thread.

The models here are tiny (64-wide), so extra threads buy nothing, and on a busy machine OpenMP's threads
spin-wait for each other on every small matmul: the overfitting test took 0.4 s on one thread and 10-20 s on
two while other processes shared the CPU. One thread also keeps the float results independent of the core count.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mixer.mixing.mix import mix
from mixer.mixing.reader import BlendReader
from mixer.recipe import parse_recipe
from mixer.shards.format import IndexedDatasetWriter


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def blend(tmp_path_factory):
    """32 samples of 9 tokens from two sources of 16-token documents (ids 100.. and 5000..)."""
    out = tmp_path_factory.mktemp("blend")
    for name, base in (("a", 100), ("b", 5000)):
        folder = out / "sources" / name
        with IndexedDatasetWriter(folder / "00000", np.uint16) as w:
            for i in range(12):
                w.add_document(list(range(base + 16 * i, base + 16 * i + 16)))
            info = w.finalize()
        (folder / "assembled.json").write_text(
            json.dumps(
                {
                    "fingerprint": name,
                    "shards": [{"name": "00000", "documents": info.documents, "tokens": info.tokens}],
                }
            )
        )
    recipe = parse_recipe(
        {
            "name": "d",
            "tokenizer": "t.json",
            "holdout": {"fraction": 0},
            "sources": {"a": {"type": "jsonl", "paths": ["x"]}, "b": {"type": "jsonl", "paths": ["y"]}},
            "phases": {"p": {"tokens": 256, "seq_len": 8, "weights": {"a": 1, "b": 1}}},
        }
    )
    mix(out, recipe, "uint16", echo=lambda s: None)
    return BlendReader(out, "p")
