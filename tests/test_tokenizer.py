import functools
import json
import os
import pickle
import random
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from mixer.shards.tokenizer import (
    Encoder,
    TokenizerError,
    benchmark_backends,
    fingerprint,
    load_tokenizer_info,
    train_bpe,
)

REPO = Path(__file__).resolve().parents[1]
EOT = "<|endoftext|>"


@functools.cache
def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.rglob("*.py") if "site-packages" not in p.relative_to(root).parts)


def stdlib_texts(max_chars: int, skip_chars: int = 0) -> list[str]:
    """Real text: this Python's standard-library source, in a fixed file order."""
    out, seen = [], 0
    for path in stdlib_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        seen += len(text)
        if seen <= skip_chars:
            continue
        out.append(text)
        if sum(map(len, out)) >= max_chars:
            break
    return out


def as_documents(texts: list[str], seed: int = 0) -> list[str]:
    """Cut files into documents of 1..2000 characters at arbitrary points (mid-word, mid-indent...)."""
    rng = random.Random(seed)
    docs = []
    for text in texts:
        start = 0
        while start < len(text):
            end = start + rng.randint(1, 2000)
            docs.append(text[start:end])
            start = end
    return docs


SCRIPTS = [(0x430, 0x44F), (0x3B1, 0x3C9), (0x4E00, 0x4E60), (0x3041, 0x3093), (0xAC00, 0xAC60),
           (0x627, 0x64A), (0x915, 0x939), (0x1F600, 0x1F640), (0x61, 0x7A), (0xE0, 0xFF)]  # fmt: skip


def multilingual_text(seed: int, words: int) -> str:
    """Zipf-distributed words in ten scripts (emoji included), so merges span multi-byte characters."""
    rng = random.Random(seed)
    lexicon = []
    for lo, hi in SCRIPTS:
        for _ in range(60):
            lexicon.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 6))))
    weights = [1 / (rank + 1) for rank in range(len(lexicon))]
    seps = [" ", " ", " ", ", ", ". ", "\n", "  ", "\t", "'s ", "1 ", "23 "]
    chosen = rng.choices(lexicon, weights, k=words)
    return "".join(w + rng.choice(seps) for w in chosen)


def hand_built_tokenizer(path: Path) -> Path:
    """Bytes get ids 1..256 in code-point order of GPT-2's alphabet ("a" = 65, "h" = 72, "i" = 73,
    "Ċ" (newline) = 199, "Ġ" (space) = 221); two merges: "hi" = 257, "Ġhi" = 258; EOS = 0."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {EOT: 0, **{c: i + 1 for i, c in enumerate(alphabet)}, "hi": 257, "Ġhi": 258}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[("h", "i"), ("Ġ", "hi")]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([EOT])
    tok.save(str(path))
    return path


def edited(src: Path, dst: Path, edit) -> Path:
    spec = json.loads(src.read_text(encoding="utf-8"))
    edit(spec)
    dst.write_text(json.dumps(spec), encoding="utf-8")
    return dst


@pytest.fixture(scope="module")
def stdlib_tok(tmp_path_factory) -> Path:
    """Vocab 2000, trained on the first ~1 MB of the standard library."""
    out = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    return train_bpe(stdlib_texts(1_000_000), vocab_size=2000, out_path=out)


@pytest.fixture(scope="module")
def stdlib_info(stdlib_tok):
    return load_tokenizer_info(stdlib_tok)


@pytest.fixture(scope="module")
def small_tok(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small") / "tokenizer.json"
    return train_bpe(stdlib_texts(150_000), vocab_size=400, out_path=out)


def train_small(tmp_path: Path, special_tokens: tuple[str, ...], name: str = "tokenizer.json") -> Path:
    return train_bpe(
        stdlib_texts(30_000), vocab_size=300, special_tokens=special_tokens, out_path=tmp_path / name
    )


# --- training ----------------------------------------------------------------------------------------------


def test_training_is_deterministic_and_atomic(tmp_path):
    texts = stdlib_texts(400_000)
    a = train_bpe(texts, vocab_size=800, out_path=tmp_path / "a" / "tokenizer.json")
    b = train_bpe(iter(texts), vocab_size=800, out_path=tmp_path / "b" / "tokenizer.json")
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in a.parent.iterdir()) == ["tokenizer.json"]  # no temporary file left
    spec = json.loads(a.read_text(encoding="utf-8"))
    assert spec["normalizer"] is None
    assert spec["pre_tokenizer"] == {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                     "use_regex": True}  # fmt: skip
    assert spec["model"]["vocab"][EOT] == 0 and len(spec["model"]["vocab"]) == 800
    assert len(spec["model"]["merges"]) == 800 - 256 - 1


def test_training_rejects_a_vocabulary_smaller_than_bytes_plus_specials(tmp_path):
    with pytest.raises(TokenizerError, match=r"vocab_size: 257 .* at least 258"):
        train_bpe(["abc"], vocab_size=257, special_tokens=("<pad>", EOT), out_path=tmp_path / "t.json")
    assert not (tmp_path / "t.json").exists()


# --- tiktoken conversion: the identity proof ---------------------------------------------------------------


def test_trained_tokenizer_converts_to_tiktoken_with_identical_ids_on_stdlib(stdlib_tok, stdlib_info):
    assert stdlib_info.backend == "tiktoken"
    probes = int(stdlib_info.backend_reason.split(" on ")[1].split()[0])
    assert stdlib_info.backend_reason == f"tiktoken: identical ids on {probes} probe texts" and probes > 700
    docs = as_documents(stdlib_texts(3_000_000, skip_chars=1_000_000))  # text the tokenizer never saw
    assert len(docs) > 2500
    fast = Encoder(stdlib_info).encode_with_eos(docs)
    reference = Encoder(load_tokenizer_info(stdlib_tok, backend="hf")).encode_with_eos(docs)
    np.testing.assert_array_equal(fast[1], reference[1])
    np.testing.assert_array_equal(fast[0], reference[0])
    assert len(fast[0]) > 700_000


def test_multilingual_tokenizer_converts_with_identical_ids(tmp_path):
    path = train_bpe([multilingual_text(1, 40_000)], vocab_size=1500, out_path=tmp_path / "t.json")
    vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    assert sum(any(ord(c) > 0x7F for c in t) for t in vocab) > 900  # merges of multi-byte characters
    docs = multilingual_text(2, 60_000).split("\n")
    info = load_tokenizer_info(path, probe_texts=docs[:100])
    assert info.backend == "tiktoken", info.backend_reason
    fast = Encoder(info).encode_with_eos(docs)
    reference = Encoder(load_tokenizer_info(path, backend="hf")).encode_with_eos(docs)
    np.testing.assert_array_equal(fast[0], reference[0])
    np.testing.assert_array_equal(fast[1], reference[1])


def byte_level_bpe(path: Path, merges: list[tuple[str, str]]) -> Path:
    """A byte-level BPE with the given merges; their results take ids 257, 258, ... in merge order."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {EOT: 0, **{c: i + 1 for i, c in enumerate(alphabet)}}
    for left, right in merges:
        vocab[left + right] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([EOT])
    tok.save(str(path))
    return path


def test_a_token_bpe_never_produces_is_left_out_of_tiktoken(tmp_path):
    # "bc" merges before "ab", so HF splits "abc" into a|bc and the rule (ab, c) never fires: "abc" (259)
    # is unreachable. tiktoken looks whole pieces up in its vocabulary and would emit 259 if it knew it.
    path = byte_level_bpe(tmp_path / "tokenizer.json", [("b", "c"), ("a", "b"), ("ab", "c")])
    info = load_tokenizer_info(path)
    assert info.backend == "tiktoken", info.backend_reason
    a, bc, ab = 65, 257, 258
    expected = [a, bc, 0, ab, 0, a, bc, a, bc, 0]
    texts = ["abc", "ab", "abcabc"]
    assert Encoder(info).encode_with_eos(texts)[0].tolist() == expected
    assert Encoder(load_tokenizer_info(path, backend="hf")).encode_with_eos(texts)[0].tolist() == expected


def test_random_adversarial_bpes_give_identical_ids(tmp_path):
    # Random merges over a tiny alphabet: many tokens with several splits, many unreachable tokens; the
    # conversion must agree with HF on every string (without the reachability rule it fails on most seeds).
    from mixer.shards.tokenizer import (
        _hf_from_bytes,
        _HFBackend,
        _parse_spec,
        _tiktoken_encoding,
        _TiktokenBackend,
    )

    for seed in range(40):
        rng = random.Random(seed)
        pieces, merges, made = ["a", "b", "c", "Ġ"], [], set("abcĠ")
        while len(merges) < 40:
            left, right = rng.choice(pieces), rng.choice(pieces)
            if left + right not in made and len(left + right) <= 8:
                made.add(left + right)
                pieces.append(left + right)
                merges.append((left, right))
        raw = byte_level_bpe(tmp_path / f"{seed}.json", merges).read_bytes()
        hf = _hf_from_bytes(raw, tmp_path)
        encoding = _tiktoken_encoding(hf, _parse_spec(raw, tmp_path))
        assert not isinstance(encoding, str), encoding
        texts = ["".join(rng.choices("abc ", k=rng.randint(1, 30))) for _ in range(300)]
        fast, reference = _TiktokenBackend(encoding).encode(texts), _HFBackend(hf).encode(texts)
        assert [x.tolist() for x in fast] == [x.tolist() for x in reference], seed


# --- encode_with_eos ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["tiktoken", "hf"])
def test_encode_with_eos_layout_on_a_hand_built_tokenizer(tmp_path, backend):
    info = load_tokenizer_info(hand_built_tokenizer(tmp_path / "tokenizer.json"), backend=backend)
    assert (info.backend, info.eos_token, info.eos_id, info.vocab_size) == (backend, EOT, 0, 259)
    tokens, lengths = Encoder(info).encode_with_eos(["hi hi", "", "a\n\nhi"])
    # "hi" | " hi" ; nothing ; "a" | "\n" | "\n" | "hi" (a newline run before a word splits off its last one)
    assert tokens.dtype == np.uint32 and lengths.dtype == np.int32
    assert tokens.tolist() == [257, 258, 0, 0, 65, 199, 199, 257, 0]
    assert lengths.tolist() == [3, 1, 5]
    assert np.flatnonzero(tokens == 0).tolist() == (np.cumsum(lengths) - 1).tolist()
    empty = Encoder(info).encode_with_eos([])
    assert (empty[0].dtype, empty[0].size, empty[1].dtype, empty[1].size) == (np.uint32, 0, np.int32, 0)


@pytest.mark.parametrize("backend", ["tiktoken", "hf"])
def test_eos_literal_in_a_document_is_text_not_the_eos_id(stdlib_tok, backend):
    info = load_tokenizer_info(stdlib_tok, backend=backend)
    tokens, lengths = Encoder(info).encode_with_eos([f"end{EOT}start", EOT, f"{EOT}{EOT}"])
    assert np.flatnonzero(tokens == info.eos_id).tolist() == (np.cumsum(lengths) - 1).tolist()
    assert lengths[1] > 2  # the literal took several ordinary tokens


@pytest.mark.parametrize("backend", ["tiktoken", "hf"])
def test_decode_of_encode_is_the_text_plus_eos(stdlib_tok, backend):
    info = load_tokenizer_info(stdlib_tok, backend=backend)
    encoder = Encoder(info)
    texts = ["def f(x):\n    return x\n", "", "naïve café 中文 👨‍👩‍👧 \t\n", f"literal {EOT} inside"]
    tokens, lengths = encoder.encode_with_eos(texts)
    assert encoder.decode(tokens) == "".join(t + EOT for t in texts)
    assert encoder.decode(tokens[: lengths[0]].tolist()) == texts[0] + EOT


def test_lone_surrogates_get_the_same_ids_from_both_backends(stdlib_tok, stdlib_info):
    texts = ["a\ud800b", "\ud83d\ude00 pair", "fine"]
    fast = Encoder(stdlib_info).encode_with_eos(texts)
    reference = Encoder(load_tokenizer_info(stdlib_tok, backend="hf")).encode_with_eos(texts)
    np.testing.assert_array_equal(fast[0], reference[0])
    assert Encoder(stdlib_info).decode(fast[0]) == f"a\ufffdb{EOT}😀 pair{EOT}fine{EOT}"


# --- conversion refused ------------------------------------------------------------------------------------


def _set_normalizer(spec):
    spec["normalizer"] = {"type": "NFC"}


def _set_prefix_space(spec):
    spec["pre_tokenizer"]["add_prefix_space"] = True


def _swap_first_merges(spec):
    merges = spec["model"]["merges"]
    merges[0], merges[1] = merges[1], merges[0]


def _add_plain_token(spec):
    spec["added_tokens"].append({"id": len(spec["model"]["vocab"]), "content": "hello", "single_word": False,
                                 "lstrip": False, "rstrip": False, "normalized": False, "special": False})  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_set_normalizer, "hf: normalizer present (NFC)"),
        (_set_prefix_space, "hf: ByteLevel add_prefix_space=True"),
        (lambda s: s["model"].update(ignore_merges=True), "hf: BPE ignore_merges=True"),
        (lambda s: s["model"].update(dropout=0.1), "hf: BPE dropout=0.1"),
        (_swap_first_merges, "hf: ranks not in merge order: merge 1 makes "),
        (
            _add_plain_token,
            "hf: added token 'hello' is not special: HF matches it inside text, tiktoken cannot",
        ),
    ],
)
def test_conversion_is_refused_with_a_reason(small_tok, tmp_path, edit, reason):
    path = edited(small_tok, tmp_path / "tokenizer.json", edit)
    info = load_tokenizer_info(path)
    assert info.backend == "hf"
    assert info.backend_reason.startswith(reason), info.backend_reason
    with pytest.raises(TokenizerError, match=r"tokenizer\.backend: tiktoken cannot reproduce"):
        load_tokenizer_info(path, backend="tiktoken")


def test_refused_tokenizers_still_encode_through_hf(small_tok, tmp_path):
    nfc = Encoder(load_tokenizer_info(edited(small_tok, tmp_path / "nfc.json", _set_normalizer)))
    assert nfc.encode_with_eos(["cafe\u0301"])[0].tolist() == nfc.encode_with_eos(["caf\u00e9"])[0].tolist()
    reference = (
        Tokenizer.from_file(str(tmp_path / "nfc.json")).encode("cafe\u0301", add_special_tokens=False).ids
    )
    assert nfc.encode_with_eos(["cafe\u0301"])[0].tolist() == [*reference, 0]

    prefixed = Encoder(load_tokenizer_info(edited(small_tok, tmp_path / "prefix.json", _set_prefix_space)))
    assert prefixed.encode_with_eos(["def"])[0].tolist() == prefixed.encode_with_eos([" def"])[0].tolist()


def test_non_bpe_model_is_refused(tmp_path):
    tok = Tokenizer(models.WordLevel(vocab={EOT: 0, "[UNK]": 1, "a": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens([EOT])
    tok.save(str(tmp_path / "tokenizer.json"))
    info = load_tokenizer_info(tmp_path / "tokenizer.json")
    assert (info.backend, info.backend_reason) == ("hf", "hf: WordLevel model, not BPE")
    assert Encoder(info).encode_with_eos(["a b"])[0].tolist() == [2, 1, 0]


def test_probe_texts_catch_what_the_static_checks_cannot(small_tok, tmp_path):
    # A Split regex that skips U+E9F1: HF keeps the gap as a piece, tiktoken silently drops it. The
    # built-in probes never contain U+E9F1, so only the caller's sample texts reveal the difference.
    def split_regex(spec):
        spec["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "[^\\x{E9F1}]+"}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]}  # fmt: skip

    path = edited(small_tok, tmp_path / "tokenizer.json", split_regex)
    assert load_tokenizer_info(path).backend == "tiktoken"
    info = load_tokenizer_info(path, probe_texts=["plain", "a\ue9f1b"])
    assert info.backend == "hf"
    assert info.backend_reason.startswith("hf: tiktoken ids differ from HF on probe text ")
    assert info.backend_reason.endswith(repr("a\ue9f1b") + " at token 1")


# --- EOS and errors ----------------------------------------------------------------------------------------


def test_eos_is_detected_among_the_special_tokens(tmp_path):
    info = load_tokenizer_info(train_small(tmp_path, ("<pad>", "</s>")), backend="hf")
    assert (info.eos_token, info.eos_id) == ("</s>", 1)
    info = load_tokenizer_info(train_small(tmp_path, ("</s>", "<pad>", EOT), "two.json"), backend="hf")
    assert (info.eos_token, info.eos_id) == (EOT, 2)  # preferred over </s>


def test_tokenizer_config_beside_the_file_decides_the_eos(tmp_path):
    path = train_small(tmp_path, ("</s>", EOT))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
    assert load_tokenizer_info(path, backend="hf").eos_token == "</s>"
    other = tmp_path / "custom"
    other.mkdir()
    train_small(other, ("<pad>", "<|doc|>"))
    (other / "tokenizer_config.json").write_text(json.dumps({"eos_token": {"content": "<|doc|>"}}))
    info = load_tokenizer_info(other, backend="hf")  # a folder holding tokenizer.json works too
    assert (info.eos_token, info.eos_id, info.path) == ("<|doc|>", 1, str(other / "tokenizer.json"))


def test_a_tokenizer_without_eos_asks_for_tokenizer_eos(tmp_path):
    path = train_small(tmp_path, ("<pad>",))
    with pytest.raises(
        TokenizerError, match=r"tokenizer\.eos: .* its special tokens are '<pad>'\. .*`tokenizer\.eos`"
    ):
        load_tokenizer_info(path)


def test_an_unknown_eos_name_is_an_error_listing_the_special_tokens(tmp_path):
    path = train_small(tmp_path, ("<pad>", EOT))
    with pytest.raises(
        TokenizerError, match=r"tokenizer\.eos: '<nope>' is not a token of .*'<pad>', '<\|endoftext\|>'"
    ):
        load_tokenizer_info(path, eos_token="<nope>")
    assert load_tokenizer_info(path, eos_token="<pad>", backend="hf").eos_id == 0


def test_missing_and_malformed_files_name_the_path(tmp_path):
    with pytest.raises(TokenizerError, match=rf"tokenizer\.path: {tmp_path}/nope\.json does not exist"):
        load_tokenizer_info(tmp_path / "nope.json")
    (tmp_path / "text.json").write_text("hello")
    with pytest.raises(TokenizerError, match=rf"{tmp_path}/text\.json is not a Hugging Face tokenizer\.json"):
        load_tokenizer_info(tmp_path / "text.json")
    (tmp_path / "other.json").write_text('{"model": {"type": "Nonsense"}}')
    with pytest.raises(
        TokenizerError, match=rf"{tmp_path}/other\.json is not a Hugging Face tokenizer\.json"
    ):
        load_tokenizer_info(tmp_path / "other.json")
    with pytest.raises(TokenizerError, match=r"tokenizer\.backend: 'fast' is not one of auto, hf, tiktoken"):
        load_tokenizer_info(tmp_path / "nope.json", backend="fast")


def test_info_fields(small_tok):
    info = load_tokenizer_info(str(small_tok))
    assert info.path == str(small_tok.resolve()) and Path(info.path).is_absolute()
    assert info.fingerprint == fingerprint(small_tok)
    assert info.fingerprint.startswith("sha256:") and len(info.fingerprint) == 7 + 64
    assert (info.vocab_size, info.eos_id, info.eos_token) == (400, 0, EOT)


# --- pickling and processes --------------------------------------------------------------------------------


def test_encoder_pickles_without_its_backend_and_works_in_another_process(stdlib_info):
    encoder = Encoder(stdlib_info)
    expected = encoder.encode_with_eos(["hello world", "x = 1\n"])
    blob = pickle.dumps(encoder)
    assert len(blob) < 1000  # the info only, not the loaded tokenizer
    clone = pickle.loads(blob)
    assert clone.info == stdlib_info and clone._backend is None
    assert clone.encode_with_eos(["hello world", "x = 1\n"])[0].tolist() == expected[0].tolist()

    code = (
        "import json, pickle, sys\n"
        "enc = pickle.loads(sys.stdin.buffer.read())\n"
        "tokens, lengths = enc.encode_with_eos(['hello world', 'x = 1\\n'])\n"
        "print(json.dumps([tokens.tolist(), lengths.tolist(), enc._backend.name]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, env=env, check=True)
    assert json.loads(done.stdout) == [expected[0].tolist(), expected[1].tolist(), "tiktoken"]


def test_encoder_refuses_a_tokenizer_file_changed_after_loading(small_tok, tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_bytes(small_tok.read_bytes())
    info = load_tokenizer_info(path, backend="hf")
    path.write_bytes(small_tok.read_bytes() + b"\n")
    with pytest.raises(TokenizerError, match=r"changed since it was loaded"):
        Encoder(info).encode_with_eos(["x"])


def test_benchmark_reports_both_backends(stdlib_info):
    result = benchmark_backends(as_documents(stdlib_texts(100_000)), stdlib_info, repeats=1)
    assert result["encoder_backend"] == "tiktoken" and result["tokens"] > 10_000
    for key in ("hf_tokens_per_s", "hf_fast_tokens_per_s", "tiktoken_tokens_per_s", "encoder_tokens_per_s"):
        assert result[key] > 0
