"""Byte-level BPE tokenizers: load one, train one, and encode documents fast with exactly its ids.

The reference is always Hugging Face ``tokenizers``: a ``tokenizer.json`` defines the ids. Tokenization
dominates the build's cost, so documents are encoded by tiktoken whenever it provably gives the same ids,
and by ``tokenizers`` otherwise. tiktoken is built from the file's vocabulary and merges; the conversion
refuses (and says why) wherever it could differ, and an accepted conversion is still checked id-for-id on
a built-in probe set plus sample documents before it is used.

Why the conversion is exact. tiktoken merges the adjacent pair whose concatenation has the lowest rank,
HF the adjacent pair whose merge rule comes first; both take the leftmost pair on ties. With rank = id,
the two agree when (a) merge results have ids that increase in merge order, and (b) tiktoken only knows
tokens that HF's BPE produces from their own bytes ("reachable" tokens): every segment of an HF result
is reachable, and for a reachable token the only split HF can ever hold adjacent is its own merge rule.
(b) also makes tiktoken's whole-piece vocabulary lookup agree with HF. Unreachable tokens (special tokens
sitting in the model vocab, leftovers) are left out: HF's BPE never emits them either.

Special-token strings inside documents are ordinary text for both backends, and no post-processor tokens
are added: a document containing the literal ``<|endoftext|>`` never produces the EOS id.
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from mixer.errors import MissingDependency, MixerError

if TYPE_CHECKING:
    import tiktoken
    from tokenizers import Tokenizer

# HF's ByteLevel pre-tokenizer regex (tokenizers/src/pre_tokenizers/byte_level.rs), verbatim.
BYTE_LEVEL_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

# End-of-document tokens of common pretrained families, in order of preference: GPT-2/NeoX/StarCoder/Qwen,
# Llama 3, Llama 2/Mistral/T5, Gemma. Deliberately absent: BERT's "[SEP]" (a segment separator of a
# WordPiece model) and chat end-of-turn tokens such as "<|im_end|>" or "<|eot_id|>".
EOS_CANDIDATES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>")

BACKENDS = ("auto", "hf", "tiktoken")


class TokenizerError(MixerError):
    """The tokenizer file or setting is unusable; the message names the path or key and the fix."""


@dataclass(frozen=True)
class TokenizerInfo:
    """Everything a process needs to encode exactly like the build did (picklable, JSON-friendly)."""

    path: str  # absolute path of the tokenizer.json
    fingerprint: str  # "sha256:<hex>" of the tokenizer.json bytes
    vocab_size: int  # number of ids = max id + 1 (added tokens included)
    eos_id: int
    eos_token: str
    backend: str  # "tiktoken" or "hf": the backend that encodes
    backend_reason: str  # why, e.g. "tiktoken: identical ids on 1843 probe texts" or "hf: normalizer present"


def fingerprint(path: Path) -> str:
    """``"sha256:<hex>"`` of the file's bytes."""
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_tokenizer_info(
    path: str | Path,
    *,
    eos_token: str | None = None,
    backend: str = "auto",
    probe_texts: Sequence[str] = (),
) -> TokenizerInfo:
    """Load a ``tokenizer.json`` (or a folder holding one), find its EOS token and choose the backend.

    ``backend``: ``"auto"`` uses tiktoken when the conversion is exact and gives identical ids on the
    built-in probes and ``probe_texts``, else HF; ``"hf"`` always HF; ``"tiktoken"`` fails unless exact.
    ``eos_token``: appended after every document; it must be in the vocabulary. When not given, the
    first of :data:`EOS_CANDIDATES` among the added tokens is used (a ``tokenizer_config.json`` beside the
    file breaks a tie), then the ``eos_token`` that such a config names.
    """
    if backend not in BACKENDS:
        raise TokenizerError(f"tokenizer.backend: '{backend}' is not one of {', '.join(BACKENDS)}")
    file = _tokenizer_file(path)
    raw = file.read_bytes()
    spec = _parse_spec(raw, file)
    hf = _hf_from_bytes(raw, file)
    vocab = hf.get_vocab(with_added_tokens=True)
    eos, eos_id = _find_eos(hf, spec, file, eos_token)

    if backend == "hf":
        chosen, reason = "hf", "hf: requested (tokenizer.backend: hf)"
    else:
        chosen, reason = _choose_fast_backend(
            hf, spec, probe_texts, "sha256:" + hashlib.sha256(raw).hexdigest()
        )
        if backend == "tiktoken" and chosen != "tiktoken":
            raise TokenizerError(
                f"tokenizer.backend: tiktoken cannot reproduce the ids of {file} "
                f"({reason.removeprefix('hf: ')}); set tokenizer.backend to auto or hf"
            )
    return TokenizerInfo(
        path=str(file),
        fingerprint="sha256:" + hashlib.sha256(raw).hexdigest(),
        vocab_size=max(vocab.values()) + 1,
        eos_id=eos_id,
        eos_token=eos,
        backend=chosen,
        backend_reason=reason,
    )


class Encoder:
    """Encodes documents with the backend ``info`` names, EOS after each document.

    Picklable by construction: it holds only the :class:`TokenizerInfo`; the backend is loaded lazily
    (and cached) in the process that encodes, after checking the file still has the same fingerprint.
    """

    def __init__(self, info: TokenizerInfo):
        self.info = info
        self._backend: _HFBackend | _TiktokenBackend | None = None

    def encode_with_eos(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(tokens, lengths)``: every document's ids followed by the EOS id, concatenated (uint32), and
        each document's token count including its EOS (int32)."""
        if self._backend is None:
            self._backend = _backend_for(self.info)
        arrays = self._backend.encode(texts)
        if not arrays:
            return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int32)
        eos = np.array([self.info.eos_id], dtype=np.uint32)
        lengths = np.fromiter((len(a) + 1 for a in arrays), dtype=np.int32, count=len(arrays))
        return np.concatenate([part for a in arrays for part in (a, eos)]), lengths

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids`` via HF ``tokenizers``, special tokens included: the inverse of encoding."""
        hf = _hf_for(self.info)
        return hf.decode(np.asarray(ids, dtype=np.int64).tolist(), skip_special_tokens=False)

    def __getstate__(self) -> dict[str, Any]:
        return {"info": self.info}  # never the loaded backend: workers load their own

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.info = state["info"]
        self._backend = None


def hf_tokenizer_config(eos_token: str) -> dict[str, Any]:
    """The ``tokenizer_config.json`` stored beside a build's ``tokenizer.json``.

    Without it ``transformers`` (``AutoTokenizer``, ``PreTrainedTokenizerFast``) loads the folder with no
    EOS token, and Megatron's ``HuggingFaceTokenizer`` has no EOD. Documents are joined by EOS alone (the
    build prepends nothing), so EOS also stands for BOS, and the tokenizer adds no special tokens of its own.
    """
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": eos_token,
        "bos_token": eos_token,
        "add_bos_token": False,
        "add_eos_token": False,
        # decode to exactly the encoded text: the clean-up would turn "a ." into "a."
        "clean_up_tokenization_spaces": False,
    }


def train_bpe(
    texts: Iterable[str],
    *,
    vocab_size: int,
    special_tokens: Sequence[str] = ("<|endoftext|>",),
    min_frequency: int = 2,
    out_path: Path,
) -> Path:
    """Train a GPT-2-style byte-level BPE on ``texts`` and write its ``tokenizer.json`` to ``out_path``.

    No normalizer, the ByteLevel pre-tokenizer without prefix space, the full 256-byte initial alphabet
    and the ByteLevel decoder; special tokens take the first ids. Training is deterministic (the same texts
    give a byte-identical file) and the file is written atomically.
    """
    if vocab_size < 256 + len(special_tokens):
        raise TokenizerError(
            f"tokenizer.train.vocab_size: {vocab_size} is below 256 byte tokens + {len(special_tokens)} "
            f"special tokens; use at least {256 + len(special_tokens)}"
        )
    decoders, models, pre_tokenizers, trainers = _tokenizers_modules()
    from tokenizers import Tokenizer

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(tok.to_str(pretty=True))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out_path)
    return out_path


def benchmark_backends(texts: Sequence[str], info: TokenizerInfo, repeats: int = 3) -> dict:
    """Median tokens/s of the bare backends on ``texts`` in this process (EOS not counted).

    ``hf_tokens_per_s`` is ``encode_batch`` (rayon threads: as many as the machine has unless
    ``RAYON_NUM_THREADS`` says otherwise), ``hf_fast_tokens_per_s`` ``encode_batch_fast`` (what the HF
    backend uses), ``tiktoken_tokens_per_s`` one thread (None when the conversion is not exact), and
    ``encoder_tokens_per_s`` :meth:`Encoder.encode_with_eos` with the chosen backend.
    """
    texts = list(texts)
    hf = _hf_for(info)
    encoding = _tiktoken_encoding(*_loaded(info), info.fingerprint)
    tiktoken_backend = _TiktokenBackend(encoding) if not isinstance(encoding, str) else None
    encoder = Encoder(info)
    tokens = sum(len(e.ids) for e in hf.encode_batch(texts, add_special_tokens=False))

    def median_rate(run: Any) -> float:
        seconds = []
        for _ in range(max(repeats, 1)):
            start = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - start)
        return tokens / statistics.median(seconds)

    return {
        "documents": len(texts),
        "bytes": sum(len(t.encode("utf-8", "surrogatepass")) for t in texts),
        "tokens": tokens,
        "repeats": repeats,
        "hf_tokens_per_s": median_rate(lambda: hf.encode_batch(texts, add_special_tokens=False)),
        "hf_fast_tokens_per_s": median_rate(lambda: hf.encode_batch_fast(texts, add_special_tokens=False)),
        "tiktoken_tokens_per_s": (
            median_rate(lambda: tiktoken_backend.encode(texts)) if tiktoken_backend is not None else None
        ),
        "encoder_tokens_per_s": median_rate(lambda: encoder.encode_with_eos(texts)),
        "encoder_backend": info.backend,
    }


# ---------------------------------------------------------------------------------------------------------
# Loading


def _tokenizers_modules() -> tuple[Any, Any, Any, Any]:
    try:
        from tokenizers import decoders, models, pre_tokenizers, trainers
    except ImportError:
        raise MissingDependency("tokenizers", "tokenizing") from None
    return decoders, models, pre_tokenizers, trainers


def _tokenizer_file(path: str | Path) -> Path:
    file = Path(path).expanduser().resolve()
    if file.is_dir() and (file / "tokenizer.json").is_file():
        file = file / "tokenizer.json"
    if not file.is_file():
        raise TokenizerError(
            f"tokenizer.path: {file} does not exist or is not a file; give the path of a Hugging Face "
            "tokenizer.json (or train one with tokenizer.train)"
        )
    return file


def _not_a_tokenizer(file: Path, why: str) -> TokenizerError:
    return TokenizerError(
        f"tokenizer.path: {file} is not a Hugging Face tokenizer.json ({why}); give the tokenizer.json "
        "that `tokenizers` saves (Tokenizer.save)"
    )


def _parse_spec(raw: bytes, file: Path) -> dict[str, Any]:
    try:
        spec = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise _not_a_tokenizer(file, f"invalid JSON: {e}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("model"), dict):
        raise _not_a_tokenizer(file, "no 'model' object")
    return spec


def _hf_from_bytes(raw: bytes, file: Path) -> Tokenizer:
    _tokenizers_modules()
    from tokenizers import Tokenizer

    try:
        hf = Tokenizer.from_str(raw.decode("utf-8"))
    except Exception as e:  # tokenizers raises bare Exception for every malformed file
        raise _not_a_tokenizer(file, str(e)) from None
    # Documents are plain text: never truncate or pad them, never turn their contents into special tokens.
    hf.no_truncation()
    hf.no_padding()
    hf.encode_special_tokens = True
    return hf


def _find_eos(hf: Tokenizer, spec: dict[str, Any], file: Path, eos_token: str | None) -> tuple[str, int]:
    added = hf.get_added_tokens_decoder()
    special = [t.content for _, t in sorted(added.items()) if t.special]
    listing = ", ".join(repr(s) for s in special) or "none"
    if eos_token is not None:
        eos_id = hf.token_to_id(eos_token)
        if eos_id is None:
            raise TokenizerError(
                f"tokenizer.eos: '{eos_token}' is not a token of {file}; its special tokens are {listing}. "
                "Set tokenizer.eos to the one that ends a document"
            )
        return eos_token, eos_id
    added_contents = {t.content for t in added.values()}
    present = [c for c in EOS_CANDIDATES if c in added_contents]
    configured = _configured_eos(file)
    if len(present) > 1 and configured in present:
        present = [configured]
    if not present and configured is not None and hf.token_to_id(configured) is not None:
        present = [configured]
    if not present:
        raise TokenizerError(
            f"tokenizer.eos: {file} has none of the usual end-of-text tokens ({', '.join(EOS_CANDIDATES)}); "
            f"its special tokens are {listing}. Name the token to append after each document with "
            "`tokenizer.eos`"
        )
    return present[0], hf.token_to_id(present[0])


def _configured_eos(file: Path) -> str | None:
    """The ``eos_token`` of a ``tokenizer_config.json`` next to the file (HF model folders have one)."""
    config = file.with_name("tokenizer_config.json")
    try:
        eos = orjson.loads(config.read_bytes()).get("eos_token")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return None
    if isinstance(eos, dict):
        eos = eos.get("content")
    return eos if isinstance(eos, str) else None


# ---------------------------------------------------------------------------------------------------------
# Backends


class _HFBackend:
    name = "hf"

    def __init__(self, hf: Tokenizer):
        self.hf = hf

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        texts = list(texts)
        try:
            encodings = self.hf.encode_batch_fast(texts, add_special_tokens=False)
        except TypeError:  # lone surrogates: repair them the way tiktoken does, so both backends agree
            texts = [_repair_surrogates(t) for t in texts]
            encodings = self.hf.encode_batch_fast(texts, add_special_tokens=False)
        return [np.array(e.ids, dtype=np.uint32) for e in encodings]


class _TiktokenBackend:
    name = "tiktoken"

    def __init__(self, encoding: tiktoken.Encoding):
        self.encoding = encoding

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        # encode_to_numpy hands back tiktoken's own buffer: no Python int per token. One thread: the build
        # runs one encoder per worker process, and threads here would only compete with them.
        encode = self.encoding.encode_to_numpy
        out = []
        for text in texts:
            try:
                out.append(encode(text, disallowed_special=()))
            except UnicodeEncodeError:
                out.append(encode(_repair_surrogates(text), disallowed_special=()))
        return out


def _repair_surrogates(text: str) -> str:
    """tiktoken's repair of strings that are not valid UTF-8 (lone surrogates become U+FFFD)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


_LOADED: dict[tuple[str, str], tuple[Tokenizer, dict[str, Any]]] = {}
_BACKENDS: dict[TokenizerInfo, _HFBackend | _TiktokenBackend] = {}
# By fingerprint: a tokenizer loaded ahead of time (:func:`warm`), with its tiktoken conversion (or why none).
_WARM: dict[str, tuple[Tokenizer, dict[str, Any], tiktoken.Encoding | str]] = {}


def warm(path: str | Path) -> None:
    """Load the tokenizer at ``path`` and convert it to tiktoken now, into this process's caches: a process
    forked from this one later (a build's pool worker, from the fork server) starts with them. They are
    used only for a file whose bytes have the same fingerprint, checked when the worker loads it."""
    file = Path(path)
    raw = file.read_bytes()
    hf, spec = _hf_from_bytes(raw, file), _parse_spec(raw, file)
    fp = "sha256:" + hashlib.sha256(raw).hexdigest()
    _WARM[fp] = (hf, spec, _tiktoken_encoding(hf, spec, fp))


def _loaded(info: TokenizerInfo) -> tuple[Tokenizer, dict[str, Any]]:
    """The HF tokenizer and parsed file of ``info``, once per process, refusing a file that has changed."""
    key = (info.path, info.fingerprint)
    if key not in _LOADED:
        file = Path(info.path)
        try:
            raw = file.read_bytes()
        except OSError as e:
            raise TokenizerError(f"tokenizer: cannot read {file} ({e}), which this build loaded") from None
        now = "sha256:" + hashlib.sha256(raw).hexdigest()
        if now != info.fingerprint:
            raise TokenizerError(
                f"tokenizer: {file} changed since it was loaded ({info.fingerprint} is now {now}); "
                "rerun so that every document is encoded by the same tokenizer"
            )
        if now in _WARM:
            _LOADED[key] = _WARM[now][:2]
        else:
            _LOADED[key] = (_hf_from_bytes(raw, file), _parse_spec(raw, file))
    return _LOADED[key]


def _hf_for(info: TokenizerInfo) -> Tokenizer:
    return _loaded(info)[0]


def _backend_for(info: TokenizerInfo) -> _HFBackend | _TiktokenBackend:
    if info not in _BACKENDS:
        if info.backend == "tiktoken":
            # Deterministic from the file's bytes, which _loaded has checked: the probes the parent ran hold.
            loaded = _loaded(info)  # checks the file's fingerprint
            warmed = _WARM.get(info.fingerprint)
            encoding = warmed[2] if warmed is not None else _tiktoken_encoding(*loaded, info.fingerprint)
            if isinstance(encoding, str):
                raise TokenizerError(f"tokenizer: {info.path} does not convert to tiktoken ({encoding})")
            _BACKENDS[info] = _TiktokenBackend(encoding)
        else:
            _BACKENDS[info] = _HFBackend(_hf_for(info))
    return _BACKENDS[info]


def _choose_fast_backend(
    hf: Tokenizer, spec: dict[str, Any], probe_texts: Sequence[str], fingerprint: str | None = None
) -> tuple[str, str]:
    """("tiktoken", why) when the conversion is exact and agrees with HF on every probe, else ("hf", why)."""
    encoding = _tiktoken_encoding(hf, spec, fingerprint)
    if isinstance(encoding, str):
        return "hf", f"hf: {encoding}"
    texts = _probe_texts(spec) + [t for t in probe_texts if t]
    fast = _TiktokenBackend(encoding).encode(texts)
    reference = _HFBackend(hf).encode(texts)
    for i, (a, b) in enumerate(zip(fast, reference, strict=True)):
        if not np.array_equal(a, b):
            n = min(len(a), len(b))
            at = int(np.flatnonzero(a[:n] != b[:n])[0]) if (a[:n] != b[:n]).any() else n
            return "hf", f"hf: tiktoken ids differ from HF on probe text {i} {texts[i][:60]!r} at token {at}"
    return "tiktoken", f"tiktoken: identical ids on {len(texts)} probe texts"


# ---------------------------------------------------------------------------------------------------------
# Conversion to tiktoken


def _bytes_of_unicode() -> dict[str, int]:
    """GPT-2's byte-level alphabet, inverted: the printable character standing for each byte -> the byte."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]  # "!".."~", "¡".."¬", "®".."ÿ"
    chars = {b: b for b in printable}
    shifted = 0
    for b in range(256):
        if b not in chars:
            chars[b] = 256 + shifted
            shifted += 1
    return {chr(c): b for b, c in chars.items()}


BYTE_OF_CHAR = _bytes_of_unicode()


def _pre_tokenizer_pattern(pre: dict[str, Any] | None) -> str:
    """The regex tiktoken must split with, or raise ValueError saying why there is none."""
    if pre is None:
        raise ValueError("no pre-tokenizer, so not byte-level")
    kind = pre.get("type")
    if kind == "Sequence":
        steps = pre.get("pretokenizers") or []
        if len(steps) == 1:
            return _pre_tokenizer_pattern(steps[0])
        if len(steps) == 2 and steps[0].get("type") == "Split" and steps[1].get("type") == "ByteLevel":
            split, byte_level = steps
            if byte_level.get("add_prefix_space", True):
                raise ValueError("ByteLevel add_prefix_space=True")
            if byte_level.get("use_regex", True):
                raise ValueError("Split followed by a regex-splitting ByteLevel")
            pattern = split.get("pattern") or {}
            if "Regex" not in pattern:
                raise ValueError("Split on a literal string, not a regex")
            if split.get("behavior") != "Isolated" or split.get("invert", False):
                behavior = f"{split.get('behavior')}, invert={split.get('invert')}"
                raise ValueError(f"Split behavior {behavior}: only Isolated matches tiktoken")
            return pattern["Regex"]
        kinds = [s.get("type") for s in steps]
        raise ValueError(f"pre-tokenizer Sequence of {kinds} has no single-regex equivalent")
    if kind != "ByteLevel":
        raise ValueError(f"{kind} pre-tokenizer, not ByteLevel")
    if pre.get("add_prefix_space", True):
        raise ValueError("ByteLevel add_prefix_space=True")
    if not pre.get("use_regex", True):
        raise ValueError("ByteLevel without its regex split")
    return BYTE_LEVEL_PATTERN


def _tiktoken_encoding(
    hf: Tokenizer, spec: dict[str, Any], fingerprint: str | None = None
) -> tiktoken.Encoding | str:
    """A tiktoken Encoding with exactly HF's ids, or a human-readable reason why there cannot be one.
    ``fingerprint`` (the file's): the conversion's ranks may come from, and go to, the user's cache."""
    model = spec["model"]
    if model.get("type") != "BPE":
        return f"{model.get('type')} model, not BPE"
    normalizer = spec.get("normalizer")
    if normalizer and not (normalizer.get("type") == "Sequence" and not normalizer.get("normalizers")):
        return f"normalizer present ({normalizer.get('type')})"
    try:
        pattern = _pre_tokenizer_pattern(spec.get("pre_tokenizer"))
    except ValueError as e:
        return str(e)
    if model.get("dropout"):
        return f"BPE dropout={model['dropout']}"
    for option in ("ignore_merges", "byte_fallback", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(option):
            return f"BPE {option}={model[option]!r}"
    for token in spec.get("added_tokens") or []:
        if not token.get("special"):
            content = token.get("content")
            return f"added token {content!r} is not special: HF matches it inside text, tiktoken cannot"

    vocab: dict[str, int] = model.get("vocab") or {}
    missing = [f"0x{b:02x}" for c, b in BYTE_OF_CHAR.items() if c not in vocab]
    if missing:
        return f"not byte-level: the vocabulary lacks the byte tokens {', '.join(missing[:8])}"
    ranks = _cached_ranks(hf, spec, fingerprint)
    if isinstance(ranks, str):
        return ranks

    import tiktoken

    try:
        # One special token that is never allowed while encoding: with none at all, tiktoken's scan for
        # special tokens degenerates to matching the empty string at every position (1.5x slower).
        sentinel = {"<|mixer: no special tokens in documents|>": max(vocab.values()) + 1}
        return tiktoken.Encoding("mixer", pat_str=pattern, mergeable_ranks=ranks, special_tokens=sentinel)
    except ValueError as e:
        return f"the pre-tokenizer regex does not compile in tiktoken ({e})"


def _cached_ranks(hf: Tokenizer, spec: dict[str, Any], fingerprint: str | None) -> dict[bytes, int] | str:
    """:func:`_mergeable_ranks`, kept in the user's cache by the tokenizer's fingerprint (with tiktoken's
    version and a hash of this module): the conversion takes tenths of a second, paid by every process
    that encodes (each Slurm or Ray task) and by the check."""
    import base64

    import tiktoken

    from mixer.cache import cache_dir

    root = cache_dir("tiktoken-ranks") if fingerprint else None
    path = None
    if root is not None:
        key = (
            f"{fingerprint}|{tiktoken.__version__}|{hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}"
        )
        path = root / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".ranks")
        try:
            lines = path.read_bytes().splitlines()
            if lines and lines[0] == b"mixer tiktoken ranks 1":
                return {base64.b64decode(t): int(r) for t, r in (line.split() for line in lines[1:])}
        except (OSError, ValueError):
            pass
    ranks = _mergeable_ranks(hf, spec)
    if path is not None and not isinstance(ranks, str):
        from mixer.atomic import write_text_atomic

        body = "".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in ranks.items())
        try:
            write_text_atomic(path, "mixer tiktoken ranks 1\n" + body)
        except OSError:
            pass  # computed again next time
    return ranks


def _mergeable_ranks(hf: Tokenizer, spec: dict[str, Any]) -> dict[bytes, int] | str:
    """tiktoken's mergeable ranks for a byte-level BPE: every byte, then every merge's token that HF's BPE
    can reach, with HF's ids; or why there are none."""
    model = spec["model"]
    vocab: dict[str, int] = model.get("vocab") or {}
    ranks = {bytes([b]): vocab[c] for c, b in BYTE_OF_CHAR.items()}
    previous = (-1, "")
    for i, merge in enumerate(model.get("merges") or []):
        pair = merge.split(" ") if isinstance(merge, str) else merge  # "a b" (older files) or ["a", "b"]
        if len(pair) != 2:
            return f"merge {i} {merge!r} is not a pair of tokens"
        left, right = pair
        token = left + right
        if token not in vocab or not all(c in BYTE_OF_CHAR for c in token):
            return f"merge {i} ({left!r}, {right!r}) makes {token!r}, not a byte-level vocabulary token"
        if vocab[token] <= previous[0]:
            return (
                f"ranks not in merge order: merge {i} makes {token!r} with id {vocab[token]}, "
                f"not above {previous[1]!r} (id {previous[0]}) of merge {i - 1}"
            )
        previous = (vocab[token], token)
        # Reachable: HF's BPE turns the token's own bytes into the token itself (see the module docstring).
        produced = hf.model.tokenize(token)
        if len(produced) == 1 and produced[0].id == vocab[token]:
            ranks[bytes(BYTE_OF_CHAR[c] for c in token)] = vocab[token]
    return ranks


# ---------------------------------------------------------------------------------------------------------
# Probe texts

# fmt: off
_TRICKY = (
    "", " ", "  ", "\n", "\t", "\r\n", " \n ", "\n\n\n", "   leading", "trailing   ", "a  b   c    d",
    "tab\tsep\t\tend\t", "line\r\nbreak\rcr\n\n  indented\n\t\ttabbed", "\x0b\x0c\x1c\x1d\x1e\x1f\x85",
    "nbsp\u00a0here \u00a0 \u2000\u2009\u200a\u202f\u205f\u3000ideographic", "\u2028line\u2029para",
    "I'm you're he's we've they'll she'd don't DON'T I'M O'Neill 'tis rock'n'roll ''' ' s",
    "it’s curly ’re quotes ‘s “double” «guillemets»",
    "123 4567 89012 3.14159 1,000,000 -42 +7e-10 0x1F 0b1010",
    "١٢٣ ४२ 五十 ½ ² ³ ⅷ ① ⁴ 𝟙𝟚",
    "naïve café résumé Zürich Ångström façade œuvre ß ẞ İstanbul",
    "e\u0301 a\u0308 n\u0303 \u0301\u0301 combining",
    "Ελληνικά Русский текст Українська Български ქართული Հայերեն",
    "العربية עברית فارسی اردو \u200f\u200e", "हिन्दी বাংলা தமிழ் ไทย ລາວ ខ្មែរ မြန်မာ",
    "中文字符测试，标点。“引号” 日本語のテキスト、ひらがなカタカナ漢字 한국어 텍스트",
    "👍👍🏽 👨‍👩‍👧‍👦 🇯🇵🇺🇸 ❤️ ☃ 🙂🙃 🏳️‍🌈", "∑∫√∞≠≤≥ ∀x∈ℝ: x²≥0 ⊕⊗ → ⇒ ⟨ψ|φ⟩",
    "┌─┐│ │└─┘ ░▒▓█", "a\u200bb\u200cc\u200dd\ufeffe\u2060f", "\ufffd\ufffe\uffff \ue000\uf8ff",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈 𓀀 🀄 \U0001fae0 \U000e0041\U000e007f \U000f0000 \U0010fffd",
    "\x00\x01\x07\x08\x1b[31m\x7f", "<|endoftext|>", "text<|endoftext|>more", "</s><s>[SEP][CLS]<eos><pad>",
    "<|end_of_text|> <|im_end|> <|eot_id|>",
    "def f(x: int) -> int:\n    return x ** 2  # square\n\n\nclass A:\n    pass\n",
    "if (a && b || !c) { x += 1; } else { y--; }\nfor (int i = 0; i < n; ++i) printf(\"%d\\n\", i);",
    '{"key": [1, 2.5, null, true], "nested": {"a": "b\\n"}}',
    "<html><body class=\"x\">&amp; &lt;tag&gt;</body></html>",
    "https://example.com/path?q=1&r=%20#frag user@example.org",
    "| col | col2 |\n|-----|------|\n| 1   | 2    |", "    " * 40 + "deep", "\t" * 30 + "tabs",
    "=" * 300, "-" * 77 + "\n" + "#" * 65, "a" * 3000, "9" * 1000, " " * 500 + "x", "\n" * 200,
    "aGVsbG8gd29ybGQ=" * 40, "x" * 100 + " " * 100 + "y" * 100,
)
# fmt: on


def _probe_texts(spec: dict[str, Any]) -> list[str]:
    """The built-in probe set: tricky strings, a sample of all of Unicode in several contexts, seeded random
    strings, and the tokenizer's own added tokens embedded in text."""
    texts = list(_TRICKY)
    # Regex engines disagree mostly on character classes (\s, \p{L}, \p{N}) of rarer code points.
    points = [c for c in range(0, 0x30000, 5) if not 0xD800 <= c <= 0xDFFF]
    points += [*range(0xE0000, 0xE0080), *range(0xE0100, 0xE01F0, 7), 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD]
    for start in range(0, len(points), 128):
        texts.append("".join(f" {c}a{c}1{c}'{c}  {c}\n" for c in map(chr, points[start : start + 128])))
    rng = random.Random(20240817)
    pool = "aZéß中ひ한😀👍🏽1٣ '’\t\n\r.,;:!?-_()[]{}<>/\\\"#@$%^&*+=|~`\u00a0\u3000\u200b\u0301sdmtlvre"
    texts.extend("".join(rng.choices(pool, k=rng.randint(1, 80))) for _ in range(400))
    for token in spec.get("added_tokens") or []:
        t = token.get("content", "")
        texts.extend([t, f"x{t}y", f" {t} ", f"{t}{t}\n{t}"])
    return texts
