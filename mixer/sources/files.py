"""The document-file kinds: ``jsonl``, ``parquet``, ``text`` and ``hf``."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from mixer.sources.base import (
    GlobSource,
    InputFile,
    ResolvedInputs,
    SourceConfig,
    reader_named,
    register_source,
)

if TYPE_CHECKING:
    from datatrove.pipeline.base import PipelineStep

TEXT_KEY = Field("text", description="Field holding the document text.")
ID_KEY = Field("id", description="Field holding the document id (generated from file and line when absent).")


class RecordFileSource(GlobSource):
    """Files of records (one document each) read by the datatrove step ``reader_class`` names."""

    text_key: str = TEXT_KEY
    id_key: str = ID_KEY

    def reader(self, name: str, files: list[InputFile]) -> PipelineStep:
        return reader_named(self.reader_class)(name, files, text_key=self.text_key, id_key=self.id_key)


@register_source
class JsonlSource(RecordFileSource):
    """JSON Lines files, plain or compressed (``.gz``, ``.zst``, ``.bz2``, ``.xz``): one document per line."""

    kind: ClassVar[str] = "jsonl"
    type: Literal["jsonl"] = "jsonl"
    directory_suffixes: ClassVar[tuple[str, ...]] = (
        ".jsonl",
        ".jsonl.gz",
        ".jsonl.zst",
        ".jsonl.bz2",
        ".jsonl.xz",
        ".json.gz",
        ".ndjson",
    )
    reader_class: ClassVar[str] = "mixer.readers.jsonl:JsonlSourceReader"


@register_source
class ParquetSource(RecordFileSource):
    """Parquet files: one document per row."""

    kind: ClassVar[str] = "parquet"
    type: Literal["parquet"] = "parquet"
    directory_suffixes: ClassVar[tuple[str, ...]] = (".parquet",)
    reader_class: ClassVar[str] = "mixer.readers.parquet:ParquetSourceReader"


@register_source
class TextSource(GlobSource):
    """A folder (or glob) of text files; each file is one document, its id the file's path."""

    kind: ClassVar[str] = "text"
    type: Literal["text"] = "text"
    extensions: list[str] = Field(
        default=[".txt", ".md", ".rst"], description="File suffixes read when a path names a folder."
    )
    max_file_bytes: int = Field(default=50_000_000, gt=0, description="Larger files are skipped and counted.")

    @property
    def directory_suffixes(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(e.lower() for e in self.extensions)

    def reader(self, name: str, files: list[InputFile]) -> PipelineStep:
        from mixer.readers.text import TextFolderReader

        return TextFolderReader(name, files, max_file_bytes=self.max_file_bytes)


@register_source
class HFSource(SourceConfig):
    """A Hugging Face dataset: a local dataset folder (``save_to_disk`` output or data files a builder
    recognises), or a Hub dataset when ``hub: true``. Streamed file by file through ``datasets``."""

    kind: ClassVar[str] = "hf"
    type: Literal["hf"] = "hf"
    dataset: str = Field(description="Local dataset folder, or a Hub dataset name when `hub: true`.")
    hub: bool = Field(default=False, description="Allow streaming `dataset` from the Hugging Face Hub.")
    config_name: str | None = Field(
        default=None, description="Dataset configuration name, if it has several."
    )
    data_files: list[str] | None = Field(default=None, description="Data file patterns within the dataset.")
    split: str = Field(default="train", description="Split to read.")
    text_key: str = TEXT_KEY
    id_key: str = ID_KEY

    def resolve(self, name: str) -> ResolvedInputs:
        from mixer.errors import MissingDependency, PlanError

        local = os.path.isdir(self.dataset)
        if not local and not self.hub:
            raise PlanError(
                f"source '{name}': sources.{name}.dataset '{self.dataset}' is not a local folder; "
                f"to stream it from the Hugging Face Hub set sources.{name}.hub: true"
            )
        state = os.path.join(self.dataset, "state.json")
        if local and os.path.isfile(state):  # written by Dataset.save_to_disk
            with open(state) as f:
                names = [entry["filename"] for entry in json.load(f).get("_data_files", [])]
            paths = [os.path.join(self.dataset, n) for n in names]
            return ResolvedInputs(files=[InputFile(p, os.path.getsize(p)) for p in paths])
        try:
            import datasets
        except ImportError as e:
            raise MissingDependency("datasets", f"source '{name}' (type: hf)") from e
        try:
            builder = datasets.load_dataset_builder(
                self.dataset, self.config_name, data_files=self.data_files
            )
        except Exception as e:
            raise PlanError(f"source '{name}': cannot open dataset '{self.dataset}': {e}") from None
        files = list((builder.config.data_files or {}).get(self.split, []))
        if not files:
            splits = sorted((builder.config.data_files or {}).keys())
            raise PlanError(
                f"source '{name}': dataset '{self.dataset}' has no data files for split '{self.split}' "
                f"(splits: {', '.join(splits) or 'none'}); check sources.{name}.split / data_files"
            )
        return ResolvedInputs(files=[InputFile(str(p), _size(str(p))) for p in files])

    def builder_name(self, files: list[InputFile]) -> str:
        suffixes = {".arrow": "arrow", ".parquet": "parquet", ".csv": "csv", ".txt": "text"}
        for suffix, builder in suffixes.items():
            if all(f.path.endswith(suffix) for f in files):
                return builder
        return "json"

    def reader(self, name: str, files: list[InputFile]) -> PipelineStep:
        from mixer.readers.hf import HFDatasetReader

        kwargs: dict[str, Any] = {}
        return HFDatasetReader(
            name,
            files,
            text_key=self.text_key,
            id_key=self.id_key,
            builder=self.builder_name(files),
            builder_kwargs=kwargs,
        )


def _size(path: str) -> int:
    return os.path.getsize(path) if os.path.isfile(path) else -1
