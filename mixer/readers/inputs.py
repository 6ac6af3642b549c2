"""Opening an input file for reading: local or a URL (through fsspec), decompressed by its name, with the
compressed bytes counted as they are read (the build's progress), and lines bounded in length.

Every reader of files goes through :func:`open_input`, so a kind reads remote inputs, each compression and a
hostile file (a gzip bomb: a few MB holding a multi-GB line) the same way. :func:`bounded_lines` never holds
more than its limit of one line: a longer line is consumed in chunks and reported by its length alone.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from mixer.sources.locations import compression_of, is_url

CHUNK = 1 << 20
ZSTD_FEED = 1 << 10


def open_input(path: str, on_read: Callable[[int], None] | None = None) -> BinaryIO:
    """``path`` opened for binary reading and decompressed by its suffix (``.gz``, ``.bz2``, ``.xz``,
    ``.zst``); ``on_read(n)`` is told of every ``n`` bytes taken from the file itself (compressed).

    Errors of any filesystem backend surface as ``OSError``, so readers handle local and remote files alike.
    """
    raw = _CountedRaw(_open_raw(path), on_read)
    stream: Any = io.BufferedReader(raw, CHUNK)
    codec = compression_of(path)
    if codec is None:
        return stream
    if codec == "gzip":
        inner: Any = gzip.GzipFile(fileobj=stream, mode="rb")
    elif codec == "bz2":
        inner = bz2.BZ2File(stream)
    elif codec == "xz":
        inner = lzma.LZMAFile(stream)
    else:
        inner = io.BufferedReader(ZstdStream(stream), CHUNK)
    return _Decompressed(inner, stream)  # type: ignore[return-value]


def bounded_lines(stream: BinaryIO, limit: int) -> Iterator[bytes | int]:
    """The lines of ``stream`` (newline included); a line longer than ``limit`` bytes is read in chunks of
    :data:`CHUNK`, dropped as it goes, and yielded as its length in bytes (an ``int``) instead."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        length = len(line)
        del line
        while True:
            chunk = stream.readline(CHUNK)
            length += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                break
        yield length


def _open_raw(path: str) -> Any:
    if not is_url(path):
        return open(path, "rb", buffering=0)  # noqa: SIM115 - closed with the stream
    try:
        import fsspec

        return fsspec.open(path, "rb").open()
    except OSError:
        raise
    except Exception as e:  # a backend's own error kinds (aiohttp, botocore, ImportError of a backend)
        raise OSError(f"{type(e).__name__}: {e}") from e


class _CountedRaw(io.RawIOBase):
    """A file's bytes as a raw stream, counting what is read; backend errors become ``OSError``."""

    def __init__(self, file: Any, on_read: Callable[[int], None] | None):
        self._file = file
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._file.read(len(buffer))
        except OSError:
            raise
        except Exception as e:
            raise OSError(f"{type(e).__name__}: {e}") from e
        n = len(data)
        buffer[:n] = data
        if self._on_read is not None and n:
            self._on_read(n)
        return n

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            super().close()


class _Decompressed(io.BufferedIOBase):
    """A decompressing stream that also closes the file under it (gzip, bz2 and lzma leave that open)."""

    def __init__(self, inner: Any, under: Any):
        self._inner = inner
        self._under = under

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._inner.read(size)

    def read1(self, size: int = -1) -> bytes:
        return self._inner.read1(size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._inner.readline(size)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._under.close()
            super().close()


class ZstdStream(io.RawIOBase):
    """Zstandard frames, one after another, decompressed as read; a frame cut short raises EOFError.

    zstandard's own ``stream_reader`` ends quietly at the end of the input even inside a frame, so a
    truncated file would lose its tail without a word. Input is fed in pieces of :data:`ZSTD_FEED` bytes:
    zstd expands a piece at most about 32,000-fold, so a bomb yields at most ~32 MB at a time.
    """

    def __init__(self, file: Any):
        import zstandard

        self._file = file
        self._zstd = zstandard.ZstdDecompressor()
        self._frame = self._zstd.decompressobj()
        self._fed = False  # the current frame has received input
        self._input = b""
        self._at = 0  # how much of _input was fed
        self._out = b""
        self._out_at = 0  # how much of _out was handed on

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._out_at >= len(self._out):
            if self._at >= len(self._input):
                self._input, self._at = self._file.read(CHUNK), 0
                if not self._input:
                    if self._fed and not self._frame.eof:
                        raise EOFError("the zstd stream ends inside a frame (truncated file)")
                    return 0
            if self._frame.eof:  # the previous frame is complete: the rest starts the next one
                self._frame, self._fed = self._zstd.decompressobj(), False
            piece = self._input[self._at : self._at + ZSTD_FEED]
            self._at += len(piece)
            self._out, self._out_at = self._frame.decompress(piece), 0
            self._fed = True
            if self._frame.eof:
                self._at -= len(self._frame.unused_data)  # the piece's tail starts the next frame
        n = min(len(buffer), len(self._out) - self._out_at)
        buffer[:n] = memoryview(self._out)[self._out_at : self._out_at + n]
        self._out_at += n
        return n
