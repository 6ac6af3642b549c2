"""JSON Lines, plain or compressed (.gz, .zst), one document per line."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from typing import Any

import orjson

from mixer.readers.base import MixerReader, Skip


def open_binary(path: str):
    """Open ``path`` for binary reading, decompressing by suffix."""
    lower = path.lower()
    if lower.endswith(".gz"):
        return gzip.open(path, "rb")
    if lower.endswith((".zst", ".zstd")):
        return io.BufferedReader(_ZstdFile(path), 1 << 20)  # adds readline/iteration
    return open(path, "rb")


class _ZstdFile(io.RawIOBase):
    """Zstandard frames, one after another, decompressed as read; a frame cut short raises EOFError.

    zstandard's own ``stream_reader`` ends quietly at the end of the input even inside a frame, so a
    truncated file would lose its tail without a word.
    """

    def __init__(self, path: str):
        import zstandard

        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._zstd = zstandard.ZstdDecompressor()
        self._frame = self._zstd.decompressobj()
        self._fed = False  # the current frame has received input
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._file.read(1 << 20)
            if not chunk:
                if self._fed and not self._frame.eof:
                    raise EOFError("the zstd stream ends inside a frame (truncated file)")
                return 0
            out = []
            while chunk:
                if self._frame.eof:  # the previous frame is complete: the rest starts the next one
                    self._frame, self._fed = self._zstd.decompressobj(), False
                out.append(self._frame.decompress(chunk))
                self._fed = True
                chunk = self._frame.unused_data if self._frame.eof else b""
            self._pending = b"".join(out)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


class JsonlSourceReader(MixerReader):
    name = "mixer jsonl"

    def records(self, path: str) -> Iterator[tuple[int, Any]]:
        line_no = 0
        try:
            with open_binary(path) as stream:
                for line_no, raw_line in enumerate(stream, start=1):
                    if not raw_line.strip():
                        continue
                    try:
                        line = raw_line.decode("utf-8")
                    except UnicodeDecodeError as e:
                        yield line_no, Skip("invalid_utf8", line_no, f"byte {e.start}")
                        continue
                    try:
                        yield line_no, orjson.loads(line)
                    except orjson.JSONDecodeError as e:
                        yield line_no, Skip("malformed_json", line_no, str(e).split(":")[0])
        except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as e:
            reason = "unreadable_file" if line_no == 0 and not isinstance(e, EOFError) else "truncated_file"
            yield line_no, Skip(reason, line_no + 1, f"{type(e).__name__}: {e}")
        except Exception as e:  # zstandard.ZstdError is not an OSError
            if type(e).__name__ != "ZstdError":
                raise
            yield (
                line_no,
                Skip("truncated_file" if line_no else "unreadable_file", line_no + 1, f"ZstdError: {e}"),
            )
