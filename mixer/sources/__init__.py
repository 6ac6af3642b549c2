"""Source kinds: each registers its recipe model under a ``type:`` name (see :mod:`mixer.sources.base`)."""

from mixer.sources.base import SOURCE_TYPES, InputFile, ResolvedInputs, SourceConfig, register_source
from mixer.sources.code import CodeSource
from mixer.sources.files import HFSource, JsonlSource, ParquetSource, TextSource
from mixer.sources.git_commits import GitCommitsSource
from mixer.sources.github_prs import GithubPRsSource
from mixer.sources.verified_python import VerifiedPythonSource

__all__ = [
    "SOURCE_TYPES",
    "CodeSource",
    "GitCommitsSource",
    "GithubPRsSource",
    "HFSource",
    "InputFile",
    "JsonlSource",
    "ParquetSource",
    "ResolvedInputs",
    "SourceConfig",
    "TextSource",
    "VerifiedPythonSource",
    "register_source",
]
