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
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(
            open(path, "rb"), closefd=True, read_across_frames=True
        )
        return io.BufferedReader(reader, 1 << 20)  # adds readline/iteration
    return open(path, "rb")


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
