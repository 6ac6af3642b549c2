"""Resolve the recipe's ``tokenizer:`` into a tokenizer stored with the shards.

Whatever the recipe names (a file, a Hub model, or a BPE to train), the build keeps a copy at
``<output>/tokenizer/tokenizer.json``: shards are only meaningful with the exact tokenizer that made them,
and the trainer and ``mixer inspect`` read it from there. Beside it, ``tokenizer_config.json`` names the
EOS token, so that ``transformers.AutoTokenizer`` (and Megatron's ``HuggingFaceTokenizer``, its EOD) load
the folder with the EOS the build appended.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixer.errors import MixerError, PlanError
from mixer.sources.base import InputFile, SourceConfig

if TYPE_CHECKING:
    from mixer.build.plan import BuildPlan, Echo
    from mixer.recipe import TokenizerTraining
    from mixer.shards.tokenizer import TokenizerInfo

PROBE_BYTES = 500_000  # sample text on which the fast backend must match HF tokenizers exactly
HF_CONFIG = "tokenizer_config.json"  # beside tokenizer.json: what transformers and Megatron read the EOS from


def sample_texts(sources: list[tuple[str, SourceConfig, list[InputFile]]], max_bytes: int) -> Iterator[str]:
    """A deterministic sample of document texts: an even budget of UTF-8 bytes per source, spread over its
    files."""
    from mixer.readers.base import Skip

    per_source = max_bytes // max(len(sources), 1)
    for name, config, files in sources:
        reader = config.reader(name, files)
        per_file = max(per_source // max(len(files), 1), 1)
        taken_source = 0
        for index, f in enumerate(files):
            taken_file = 0
            for line, record in reader.sample_records(f.path):
                if isinstance(record, Skip):
                    continue
                doc = reader.document(record, f.path, index, line)
                if isinstance(doc, Skip):
                    continue
                room = per_file - taken_file
                text = doc.text[:room]  # one huge document cannot swamp the sample (a character is >= 1 byte)
                data = text.encode("utf-8", "surrogatepass")
                if len(data) > room:  # cut at the budget, never inside a character
                    text = data[:room].decode("utf-8", "ignore")
                    data = text.encode("utf-8", "surrogatepass")
                yield text
                taken_file += len(data)
                if taken_file >= per_file:
                    break
            taken_source += taken_file
            if taken_source >= per_source:
                break


@dataclass
class SampleDigest:
    """What a tokenizer's training sample holds: its sha256 (the cache key), documents and bytes."""

    sha256: str
    documents: int
    bytes: int


def digest_sample(texts: Iterable[str]) -> SampleDigest:
    h = hashlib.sha256()
    documents = size = 0
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))  # lengths too: ["ab", "c"] is not ["a", "bc"]
        h.update(data)
        documents += 1
        size += len(data)
    return SampleDigest(h.hexdigest(), documents, size)


def train_on_sources(
    sources: list[tuple[str, SourceConfig, list[InputFile]]], train: TokenizerTraining, out: Path
) -> Path:
    """Train the byte-level BPE that ``train`` describes on an even sample of ``sources``."""
    from mixer.shards.tokenizer import train_bpe

    return train_bpe(
        sample_texts(sources, train.sample_bytes),
        vocab_size=train.vocab_size,
        special_tokens=train.special_tokens,
        min_frequency=train.min_frequency,
        out_path=out,
    )


def prepare_tokenizer(plan: BuildPlan, echo: Echo) -> TokenizerInfo:
    from mixer.atomic import write_json_atomic
    from mixer.shards.tokenizer import TokenizerError, hf_tokenizer_config

    cfg = plan.recipe.tokenizer
    folder = plan.output / "tokenizer"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "tokenizer.json"
    # written below for transformers and Megatron; a previous build's copy must not sway EOS detection
    (folder / HF_CONFIG).unlink(missing_ok=True)
    sources = [(sp.name, sp.config, sp.inputs.files) for sp in plan.sources]
    try:
        if cfg.path is not None:
            # plan_build has checked that the file exists
            if not target.is_file() or target.read_bytes() != Path(cfg.path).read_bytes():
                shutil.copyfile(cfg.path, target)
        elif cfg.hub is not None:
            _fetch_from_hub(cfg.hub, target)
        else:
            train = cfg.train
            assert train is not None  # the recipe model guarantees one of the three
            # The key is what training reads: the settings and the sample's texts, whatever the paths, so a
            # new text_key or an input rewritten in place trains again, and a moved corpus does not.
            sample = digest_sample(sample_texts(sources, train.sample_bytes))
            settings = train.model_dump(mode="json")
            key = hashlib.sha256(json.dumps([settings, sample.sha256]).encode()).hexdigest()
            stamp = folder / "train.json"
            if not (target.is_file() and stamp.is_file() and json.loads(stamp.read_text()).get("key") == key):
                if sample.bytes == 0:
                    echo(
                        "warning: tokenizer.train: the sources gave no text to train on (see the skip reasons "
                        "in the summary); the tokenizer has its byte tokens only"
                    )
                echo(
                    f"tokenizer: training a {train.vocab_size}-id byte-level BPE on {sample.bytes:,} bytes of "
                    f"text from {sample.documents:,} documents (tokenizer.train.sample_bytes: "
                    f"{train.sample_bytes:,})"
                )
                train_on_sources(sources, train, target)
                write_json_atomic(
                    stamp,
                    {
                        "key": key,
                        "settings": settings,
                        "sample": {
                            "sha256": sample.sha256,
                            "documents": sample.documents,
                            "bytes": sample.bytes,
                        },
                    },
                )
        probes = list(sample_texts(sources, PROBE_BYTES)) if cfg.backend != "hf" else []
        eos = cfg.eos or (cfg.train.special_tokens[0] if cfg.train is not None else None)
        info = _checked_backend(target, eos, cfg.backend, probes, folder / "backend.json")
    except TokenizerError as e:
        message = str(e)
        if cfg.path is not None:  # name the file the recipe gave, not the build's copy of it
            message = message.replace(str(target.resolve()), cfg.path)
        raise MixerError(f"tokenizer: {message}") from None
    write_json_atomic(folder / HF_CONFIG, hf_tokenizer_config(info.eos_token))
    _release_freed_heap()
    return info


def _release_freed_heap() -> None:
    """Give the heap the identity check allocated and freed (80-100 MB) back to the system: glibc keeps it
    otherwise, and every later stage of the build (the executor's manager, forked from this process,
    too) would start from it, at a level that depends on the heap's layout. Does nothing off glibc."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _checked_backend(
    target: Path, eos: str | None, backend: str, probes: list[str], cache: Path
) -> TokenizerInfo:
    """Load the tokenizer; the identity check of the fast backend runs once per tokenizer and probe sample.

    The verdict is kept in ``tokenizer/backend.json`` and in the user's cache (:func:`verdict_cache`), keyed
    by the tokenizer's fingerprint, a hash of the probe texts, the versions of tiktoken and tokenizers and
    of the code that converts and probes: a rerun, a resumed build, or a build of the same inputs into
    another folder skips re-encoding the probes with both backends.
    """
    import dataclasses

    from mixer.atomic import write_json_atomic
    from mixer.shards.tokenizer import fingerprint, load_tokenizer_info

    key = {
        "tokenizer": fingerprint(target),
        "probes": hashlib.sha256("\x00".join(probes).encode("utf-8", "surrogatepass")).hexdigest(),
        "requested": backend,
        "eos": eos,
    }
    if backend != "hf":
        shared = verdict_cache(key)
        for path in (cache, shared):
            try:
                cached = json.loads(path.read_text()) if path is not None else None
            except (OSError, ValueError):
                cached = None
            if isinstance(cached, dict) and cached.get("key") == key:
                if path != cache:
                    write_json_atomic(cache, cached)
                info = load_tokenizer_info(target, eos_token=eos, backend="hf")
                return dataclasses.replace(info, backend=cached["backend"], backend_reason=cached["reason"])
    info = load_tokenizer_info(target, eos_token=eos, backend=backend, probe_texts=probes)
    verdict = {"key": key, "backend": info.backend, "reason": info.backend_reason}
    write_json_atomic(cache, verdict)
    if backend != "hf" and (shared := verdict_cache(key)) is not None:
        try:
            write_json_atomic(shared, verdict)
        except OSError:
            pass  # a cache that cannot be written only means checking again next time
    return info


def verdict_cache(key: dict[str, Any]) -> Path | None:
    """The file in the user's cache (:func:`mixer.cache.cache_dir`) that holds the identity check's verdict
    for ``key``, with the versions of both backends and a hash of mixer's conversion and probe code."""
    import tiktoken
    import tokenizers

    from mixer.cache import cache_dir
    from mixer.shards import tokenizer as code

    root = cache_dir("tokenizer-checks")
    if root is None:
        return None
    full = {
        **key,
        "tiktoken": tiktoken.__version__,
        "tokenizers": tokenizers.__version__,
        "code": hashlib.sha256(Path(code.__file__).read_bytes()).hexdigest(),
    }
    return root / (hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:32] + ".json")


def _fetch_from_hub(name: str, target: Path) -> None:
    """Download ``tokenizer.json`` of a Hub model; only ever reached when the recipe names ``tokenizer.hub``."""
    try:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_pretrained(name)
    except Exception as e:
        raise PlanError(f"tokenizer.hub: could not load '{name}' from the Hugging Face Hub: {e}") from None
    tmp = target.with_suffix(".json.tmp")
    tok.save(str(tmp))
    tmp.replace(target)
