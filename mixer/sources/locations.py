"""Where a source's files live and how they are stored: local paths or URLs, and the compression a name says.

A path with a scheme (``s3://``, ``gs://``, ``https://``, ``hf://``, ``memory://``, any fsspec protocol) is
listed and later read through fsspec, as datatrove reads its own inputs; the backend a scheme needs (s3fs for
``s3://``, gcsfs for ``gs://``) is named when it is missing. Compression follows the file name: ``.gz``,
``.bz2``, ``.xz``/``.lzma`` and ``.zst``/``.zstd`` are decompressed while reading; a name that says a format
mixer cannot read (``.lz4``, ``.br``, ``.zip``...) is refused at plan time rather than read as raw bytes.
"""

from __future__ import annotations

import re
from typing import Any

from mixer.errors import MissingDependency, PlanError

# suffix -> codec that mixer.readers.inputs decompresses while reading
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".lzma": "xz", ".zst": "zstd", ".zstd": "zstd"}
# suffixes of compressions and archives that are not read: named in the plan's error
UNSUPPORTED_COMPRESSIONS = {
    ".lz4": "LZ4",
    ".br": "Brotli",
    ".snappy": "Snappy",
    ".sz": "Snappy",
    ".lzo": "LZO",
    ".lz": "lzip",
    ".z": "Unix compress (.Z)",
    ".zip": "a zip archive",
    ".7z": "a 7-Zip archive",
    ".rar": "a RAR archive",
    ".tar": "a tar archive",
    ".tgz": "a tar archive",
}

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: str) -> bool:
    """Whether ``path`` names a location by scheme (read through fsspec) rather than a local path."""
    return bool(_URL.match(path))


def compression_of(path: str) -> str | None:
    """The codec the file name says (``gzip``, ``bz2``, ``xz``, ``zstd``), or None for an uncompressed name."""
    lower = path.lower()
    for suffix, codec in COMPRESSIONS.items():
        if lower.endswith(suffix):
            return codec
    return None


def unsupported_compression(path: str) -> str | None:
    """The name of the compression or archive format ``path``'s suffix says, when mixer cannot read it."""
    lower = path.lower()
    for suffix, what in UNSUPPORTED_COMPRESSIONS.items():
        if lower.endswith(suffix):
            return what
    return None


def check_compression(path: str, where: str) -> None:
    """Refuse a file whose name says a compression mixer does not read (it would be read as raw bytes)."""
    what = unsupported_compression(path)
    if what is not None:
        readable = ", ".join(sorted(set(COMPRESSIONS)))
        raise PlanError(
            f"{where}: '{path}' is compressed as {what}, which mixer does not read; decompress it, or "
            f"recompress it with one of {readable}"
        )


def expand_url(pattern: str, directory_suffixes: tuple[str, ...], where: str) -> list[tuple[str, int]]:
    """``(url, bytes)`` of the files a URL names: an existing file as it is written, a folder's files with
    ``directory_suffixes`` (recursively), or a glob's matches in sorted order. Size -1 when unknown."""
    fs, root = _filesystem(pattern, where)
    try:
        if fs.exists(root):
            entries = [root]
        elif any(c in root for c in "*?["):
            entries = sorted(fs.glob(root))
        else:
            return []
        out: list[tuple[str, int]] = []
        for entry in entries:
            if fs.isdir(entry):  # over HTTP: a page of links, as a server lists a folder
                if not directory_suffixes:
                    continue
                for name in sorted(fs.find(entry)):
                    if name.lower().endswith(directory_suffixes):
                        out.append((fs.unstrip_protocol(name), _size(fs.info(name))))
            else:
                out.append((pattern if entry == root else fs.unstrip_protocol(entry), _size(fs.info(entry))))
        return out
    except Exception as e:  # each backend raises its own kinds (OSError, aiohttp's, botocore's...)
        raise PlanError(f"{where}: cannot list '{pattern}': {type(e).__name__}: {e}") from None


def _size(info: dict[str, Any]) -> int:
    size = info.get("size")
    return int(size) if isinstance(size, int) and size >= 0 else -1


def _filesystem(url: str, where: str) -> tuple[Any, str]:
    import fsspec
    from fsspec.registry import known_implementations

    protocol = url.split("://", 1)[0].lower()
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as e:
        module = known_implementations.get(protocol, {}).get("class", "").split(".")[0]
        if module:
            raise MissingDependency(module, f"{where} ('{url}')") from e
        raise PlanError(f"{where}: '{url}': {e}") from None
    except ValueError as e:
        raise PlanError(
            f"{where}: '{url}': {e}; give a local path or a URL fsspec knows (s3://, gs://, https://, hf://...)"
        ) from None
