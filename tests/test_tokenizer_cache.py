"""What the build keeps to load a tokenizer faster: a tokenizer loaded ahead of time in the fork server
(used only for a file with the same bytes) and tiktoken conversions in the user's cache."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import numpy as np
import pytest

import mixer.shards.tokenizer as tokenizer
from mixer.shards.tokenizer import Encoder, load_tokenizer_info, train_bpe

TEXTS = [p.read_text() for p in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("[a-c]*.py"))[:40]]
DOCS = [
    "def f(x):\n    return x  # a comment\n",
    "Plain prose, with words; and numbers 12 345.",
    TEXTS[3][:2000],
]


@pytest.fixture(scope="module")
def two_tokenizers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tokenizers")
    a = train_bpe(TEXTS[:20], vocab_size=600, out_path=tmp / "a.json")
    b = train_bpe(TEXTS[20:], vocab_size=700, out_path=tmp / "b.json")
    return a, b


def hf_ids(path: Path, text: str) -> list[int]:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path)).encode(text, add_special_tokens=False).ids


@pytest.fixture
def clean_caches(monkeypatch, tmp_path):
    """Empty process caches and a user cache of this test's own."""
    monkeypatch.setenv("MIXER_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("_WARM", "_LOADED", "_BACKENDS"):
        monkeypatch.setattr(tokenizer, name, {})
    return tmp_path / "cache"


def test_a_warmed_tokenizer_is_used_only_for_a_file_with_the_same_bytes(
    two_tokenizers, tmp_path, clean_caches
):
    a, b = two_tokenizers
    path = tmp_path / "tokenizer.json"
    path.write_bytes(a.read_bytes())
    tokenizer.warm(path)
    [(fp, (hf, spec, encoding))] = tokenizer._WARM.items()
    info = load_tokenizer_info(path)
    assert info.backend == "tiktoken" and info.fingerprint == fp
    encoder = Encoder(info)
    tokens, lengths = encoder.encode_with_eos(DOCS[:1])
    assert tokenizer._BACKENDS[info].encoding is encoding  # the warmed conversion, not a new one
    assert tokens[:-1].tolist() == hf_ids(a, DOCS[0])
    # the file is replaced by another tokenizer: its own bytes are loaded, the warmed one is not used
    path.write_bytes(b.read_bytes())
    other = load_tokenizer_info(path)
    tokens, lengths = Encoder(other).encode_with_eos(DOCS)
    expected = [i for d in DOCS for i in [*hf_ids(b, d), other.eos_id]]
    assert tokens.tolist() == expected and tokenizer._BACKENDS[other].encoding is not encoding


def test_a_cached_conversion_gives_the_same_ids_and_a_damaged_one_is_made_again(two_tokenizers, clean_caches):
    a, _ = two_tokenizers
    info = load_tokenizer_info(a)
    [ranks] = (clean_caches / "tiktoken-ranks").glob("*.ranks")
    fresh = Encoder(info).encode_with_eos(DOCS)
    calls = []
    convert = tokenizer._mergeable_ranks
    tokenizer._BACKENDS.clear()
    tokenizer._LOADED.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tokenizer, "_mergeable_ranks", lambda *args: calls.append(1) or convert(*args))
        cached = Encoder(info).encode_with_eos(DOCS)
        assert calls == []  # read from the cache
        ranks.write_bytes(ranks.read_bytes()[:-200] + b"\nnot base64 at all\n")
        tokenizer._BACKENDS.clear()
        again = Encoder(info).encode_with_eos(DOCS)
        assert calls == [1]  # the damaged file was ignored and written again
    for got in (cached, again):
        assert np.array_equal(got[0], fresh[0]) and np.array_equal(got[1], fresh[1])
    assert ranks.read_bytes().startswith(b"mixer tiktoken ranks 1\n")
