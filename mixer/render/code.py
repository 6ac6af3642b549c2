"""How source files become document text: as they are, with a StarCoder header, or joined per repository.

Every random choice (whether a header field is shown, the order of a repository's files) is a hash of
the recipe's seed and the file or repository it concerns, never a draw from a shared generator, so a
document's text depends on nothing else: not on the number of tasks, the order files are read in, or
the Python version.

- ``starcoder`` (StarCoder, Li et al. 2023; bigcode-dataset ``preprocessing/add_content_with_meta.py``):
  ``<reponame>{repo}<filename>{path}\\n{content}``, each of the two fields shown independently with
  probability ``p`` (StarCoder used 0.2 for each of repository name, file name and star count; stars
  are not known here and never shown), the newline only when a field is.
- ``repository`` (StarCoder2, Lozhkov et al. 2024, section 5): the files of one repository in one
  document, ``<repo_name>{repo}<file_sep>{path}\\n{content}<file_sep>{path}\\n{content}...`` with
  metadata, or ``<file_sep>{content}<file_sep>{content}...`` without (StarCoder2 kept it with
  probability 0.5), split into parts of at most ``max_bytes``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

REPONAME_TOKEN = "<reponame>"
FILENAME_TOKEN = "<filename>"


def unit_draw(seed: int, *parts: str) -> float:
    """A number in [0, 1) fixed by ``seed`` and ``parts`` (a keyed hash, the same on every machine)."""
    return int.from_bytes(_digest(seed, parts, 8), "big") / 2**64


def order_key(seed: int, *parts: str) -> bytes:
    """A sort key fixed by ``seed`` and ``parts``: sorting by it shuffles, reproducibly."""
    return _digest(seed, parts, 16)


def _digest(seed: int, parts: tuple[str, ...], size: int) -> bytes:
    data = "\x1f".join((str(seed), *parts)).encode("utf-8", "surrogateescape")
    return hashlib.blake2b(data, digest_size=size).digest()


def starcoder_header(seed: int, probability: float, repo: str | None, path: str | None) -> str:
    """The metadata line StarCoder put before a file (empty when no field is drawn)."""
    header = ""
    if repo is not None and unit_draw(seed, "reponame", repo, path or "") < probability:
        header += REPONAME_TOKEN + repo
    if path is not None and unit_draw(seed, "filename", repo or "", path) < probability:
        header += FILENAME_TOKEN + path
    return header + "\n" if header else ""


@dataclass
class RepositoryPart:
    """One document of a repository: its text and the files in it, in order."""

    number: int  # 1-based, in the order the parts were made
    metadata: bool = False  # whether the repository name and file paths are shown
    pieces: list[str] = field(default_factory=list)
    size: int = 0  # UTF-8 bytes of the text
    paths: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


class RepositoryPacker:
    """Joins a repository's files, in the order they are added, into parts of at most ``max_bytes``
    (a single file larger than that is a part of its own: files are never cut)."""

    def __init__(
        self,
        repo: str,
        *,
        seed: int,
        probability: float,
        file_separator: str,
        repo_name_token: str,
        max_bytes: int,
    ):
        self.repo = repo
        self.seed = seed
        self.probability = probability
        self.file_separator = file_separator
        self.repo_name_token = repo_name_token
        self.max_bytes = max_bytes
        self.part = self._start(1)

    def _start(self, number: int) -> RepositoryPart:
        metadata = unit_draw(self.seed, "repository", self.repo, str(number)) < self.probability
        part = RepositoryPart(number=number, metadata=metadata)
        if metadata:
            part.pieces.append(self.repo_name_token + self.repo)
            part.size = _utf8_len(part.pieces[0])
        return part

    def _piece(self, path: str, content: str) -> str:
        if self.part.metadata:
            return f"{self.file_separator}{path}\n{content}"
        return self.file_separator + content

    def add(self, path: str, content: str, language: str) -> RepositoryPart | None:
        """Add one file; returns the part it closed, if adding it closed one."""
        closed = None
        piece = self._piece(path, content)
        size = _utf8_len(piece)
        if self.part.paths and self.part.size + size > self.max_bytes:
            closed, self.part = self.part, self._start(self.part.number + 1)
            piece = self._piece(path, content)
            size = _utf8_len(piece)
        self.part.pieces.append(piece)
        self.part.size += size
        self.part.paths.append(path)
        self.part.languages.append(language)
        return closed

    def finish(self) -> RepositoryPart | None:
        """The last part, if it holds a file."""
        return self.part if self.part.paths else None


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))
