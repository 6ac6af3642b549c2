"""Source kinds: each registers its recipe model under a ``type:`` name (see :mod:`mixer.sources.base`)."""

from mixer.sources.base import SOURCE_TYPES, InputFile, ResolvedInputs, SourceConfig, register_source
from mixer.sources.files import HFSource, JsonlSource, ParquetSource, TextSource

__all__ = [
    "SOURCE_TYPES",
    "HFSource",
    "InputFile",
    "JsonlSource",
    "ParquetSource",
    "ResolvedInputs",
    "SourceConfig",
    "TextSource",
    "register_source",
]
