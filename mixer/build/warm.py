"""Imported by the fork server that a local build's pool workers are forked from
(:func:`mixer.build.engine.warm_up_workers`): loads the tokenizer that ``MIXER_WARM_TOKENIZER`` names, so
that every worker starts with it loaded and converted to tiktoken (a few tenths of a second each) rather
than doing so itself. A worker uses it only if its tokenizer file has the same bytes."""

from __future__ import annotations

import os

ENV = "MIXER_WARM_TOKENIZER"

if path := os.environ.get(ENV):
    from mixer.shards.tokenizer import warm

    try:
        warm(path)
    except Exception:  # noqa: BLE001 - the worker loads the file itself and reports what is wrong with it
        pass
