"""What every source kind shares: its recipe model, file resolution, and the registry of kinds.

A source kind is a pydantic model registered under its ``type:`` name. The model validates the recipe's
block and knows how to (a) resolve its inputs into an ordered list of work units (files) and (b) build
the datatrove reader step that turns one unit into documents. This module imports no pipeline code, so
the recipe (and the trainer that loads it) stays importable without datatrove.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mixer.filters.steps import STEPS, StepSpec, parse_step

if TYPE_CHECKING:
    from datatrove.pipeline.base import PipelineStep


class StrictModel(BaseModel):
    """Recipe models reject unknown keys, so a typo is an error rather than a silently ignored setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class InputFile:
    """One unit of work: a file (or a remote data file) and its size in bytes (-1 when unknown)."""

    path: str
    bytes: int


@dataclass
class ResolvedInputs:
    """A source's inputs in their canonical order, with warnings for patterns that matched nothing."""

    files: list[InputFile]
    warnings: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files if f.bytes > 0)


class SourceConfig(StrictModel):
    """Base of every source kind's recipe block."""

    kind: ClassVar[str] = ""
    type: str = Field(description="Source kind.")
    filters: list[str | dict[str, dict[str, Any] | None]] = Field(
        default_factory=list,
        description="Quality steps in order: a name, or {name: {parameter: value}}. "
        "Names: " + ", ".join(STEPS) + " (see docs/quality.md).",
    )

    @field_validator("filters", mode="after")
    @classmethod
    def _known_steps(cls, filters: list[Any]) -> list[Any]:
        for i, item in enumerate(filters):
            try:
                parse_step(item)
            except ValueError as e:
                raise ValueError(f"filters[{i}]: {e}") from None
        return filters

    def steps(self) -> list[StepSpec]:
        """The quality steps, parsed (their parameters are checked when the build plans)."""
        return [parse_step(item) for item in self.filters]

    def resolve(self, name: str) -> ResolvedInputs:
        """The ordered, de-duplicated inputs; raise :class:`~mixer.errors.PlanError` when there are none."""
        raise NotImplementedError

    # "module:Class" of the datatrove reader step, imported only when a build runs: the recipe stays
    # importable without datatrove, and a source's config and its reader never import each other
    reader_class: ClassVar[str] = ""

    def reader(self, name: str, files: list[InputFile]) -> PipelineStep:
        """The datatrove reader step over ``files`` (indices into this list are the file indices)."""
        return reader_named(self.reader_class)(name, files, config=self)

    def uses_seed(self) -> bool:
        """Whether this source's documents depend on the recipe's seed (a drawn header, a shuffled order).
        If so, the build sets the reader's ``seed`` attribute to it and folds it into the source's
        fingerprint, so a new seed rebuilds this source and only this source."""
        return False


class GlobSource(SourceConfig):
    """A source read from local files matched by glob patterns."""

    paths: list[str] = Field(
        min_length=1,
        description="Files or glob patterns (`**` recurses), relative to the working directory, or URLs "
        "(s3://, gs://, https://, hf://: any fsspec protocol). An existing file is taken as it is written, "
        "even when its name holds glob characters. Matches are taken in pattern order, sorted within each "
        "pattern; a file matched twice is read once.",
    )

    # file name suffixes this kind reads when a pattern names a directory
    directory_suffixes: ClassVar[tuple[str, ...]] = ()

    def resolve(self, name: str) -> ResolvedInputs:
        from mixer.errors import PlanError
        from mixer.sources.locations import check_compression, expand_url, is_url

        seen: set[str] = set()
        files: list[InputFile] = []
        warnings: list[str] = []
        for i, pattern in enumerate(self.paths):
            where = f"sources.{name}.paths[{i}]"
            if is_url(pattern):
                found = expand_url(pattern, self.directory_suffixes, where)
            else:
                matches = expand_pattern(pattern, self.directory_suffixes, not_files := [])
                warnings += [
                    f"{where}: '{p}' is not a regular file (a broken link, a device or a socket); skipped"
                    for p in not_files
                ]
                found = [(path, os.path.getsize(path)) for path in matches]
            if not found:
                warnings.append(f"{where}: '{pattern}' matched no files")
            for path, size in found:
                check_compression(path, where)
                real = path if is_url(path) else os.path.realpath(path)
                if real in seen:
                    continue
                seen.add(real)
                files.append(InputFile(path=path, bytes=size))
        if not files:
            raise PlanError(
                f"source '{name}': none of its paths matched a file ({', '.join(map(repr, self.paths))}); "
                f"check sources.{name}.paths (relative paths are taken from the working directory {os.getcwd()})"
            )
        return ResolvedInputs(files=files, warnings=warnings)


def expand_pattern(
    pattern: str, directory_suffixes: tuple[str, ...], not_files: list[str] | None = None
) -> list[str]:
    """Sorted regular files matching ``pattern``; a directory stands for the files under it with the given
    suffixes. Matches that are neither (broken links, links in a loop, devices, sockets) are appended to
    ``not_files``. Folders are walked following links to folders, but each real folder once: ``glob``'s
    ``**`` would walk 2**40 paths below two links to ``.``. A path that exists is taken literally, never as
    a pattern: ``x[1].jsonl`` names that file, not ``x1.jsonl``."""
    pattern = os.path.expanduser(pattern)
    out: list[str] = []
    for match in sorted(literal_or_matches(pattern)):
        if os.path.isdir(match):
            if not directory_suffixes:
                continue
            for root, _, names in _walk_once(match):
                for n in sorted(names):
                    if n.lower().endswith(directory_suffixes):
                        path = os.path.join(root, n)
                        if os.path.isfile(path):
                            out.append(path)
                        elif not_files is not None:
                            not_files.append(path)
        elif os.path.isfile(match):
            out.append(match)
        elif not_files is not None:
            not_files.append(match)
    return out


def literal_or_matches(pattern: str) -> list[str]:
    """``[pattern]`` when a file or folder of that name exists (glob characters and all), else the paths
    the pattern matches (``**`` through :func:`_recursive_matches`)."""
    if os.path.lexists(pattern):
        return [pattern]
    return _recursive_matches(pattern) if "**" in pattern else glob.glob(pattern)


def _walk_once(top: str, hidden: bool = True) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(top, followlinks=True)`` in sorted order that enters every real folder once (a link to a
    folder already entered, or about to be, is not descended: loops end), optionally skipping hidden
    folders. Yields (folder, folders not entered, other names)."""
    seen = {os.path.realpath(top)}
    for root, dirs, names in os.walk(top, followlinks=True):
        entered, skipped = [], []
        for d in sorted(dirs):
            real = os.path.realpath(os.path.join(root, d))
            if real in seen or (not hidden and d.startswith(".")):
                skipped.append(d)
            else:
                seen.add(real)
                entered.append(d)
        dirs[:] = entered
        yield root, skipped, names


def _recursive_matches(pattern: str) -> list[str]:
    """``glob.glob(pattern, recursive=True)``, but walking each real folder once: the folders before the
    first ``**`` are globbed, everything under them walked (:func:`_walk_once`) and matched part by part
    (names starting with a dot only where the pattern's part does, as in ``glob``)."""
    parts = pattern.split(os.sep)
    first = parts.index("**") if "**" in parts else next(i for i, p in enumerate(parts) if "**" in p)
    prefix, rest = os.sep.join(parts[:first]), parts[first:]
    folders_only = rest[-1] == ""  # a pattern ending in "/" matches folders, named with the "/"
    rest = rest[:-1] if folders_only else rest
    hidden = any(p.startswith(".") for p in rest)  # else hidden folders cannot match: not walked
    bases = glob.glob(prefix) if glob.has_magic(prefix) else [prefix]
    found = []
    for base in bases:
        if not os.path.isdir(base or "."):
            continue
        for root, skipped, names in _walk_once(base or ".", hidden):
            rel = os.path.relpath(root, base or ".")
            here = [] if rel == "." else rel.split(os.sep)
            if _parts_match(here, rest):
                found.append(os.path.join(base, *here) if here else os.path.join(base, ""))
            for name in names + skipped:  # a folder not entered can still be a match itself
                if _parts_match([*here, name], rest):
                    found.append(os.path.join(base, *here, name))
    if folders_only:
        return [p if p.endswith(os.sep) else p + os.sep for p in found if os.path.isdir(p)]
    return found


def _parts_match(names: list[str], parts: list[str]) -> bool:
    if not parts:
        return not names
    if parts[0] == "**":
        deeper = bool(names) and not names[0].startswith(".") and _parts_match(names[1:], parts)
        return deeper or _parts_match(names, parts[1:])
    if not names or (names[0].startswith(".") and not parts[0].startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], parts[0]) and _parts_match(names[1:], parts[1:])


SOURCE_TYPES: dict[str, type[SourceConfig]] = {}


def register_source(cls: type[SourceConfig]) -> type[SourceConfig]:
    """Class decorator: make ``cls`` available as ``type: <cls.kind>`` in recipes."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    SOURCE_TYPES[cls.kind] = cls
    return cls


def source_types() -> dict[str, type[SourceConfig]]:
    """All registered source kinds (importing the built-in ones first)."""
    import mixer.sources  # noqa: F401  (registers the built-in kinds)

    return dict(SOURCE_TYPES)


def describe_record_keys(record: Any) -> str:
    if isinstance(record, dict):
        return ", ".join(map(str, list(record)[:12])) or "(none)"
    return type(record).__name__


def reader_named(spec: str) -> Any:
    """The class a ``"module:Class"`` spec names (a source's ``reader_class``)."""
    import importlib

    module, cls = spec.split(":")
    return getattr(importlib.import_module(module), cls)
