"""JSON Lines, plain or compressed (.gz, .zst, .bz2, .xz), local or remote, one document per line."""

from __future__ import annotations

import gzip
import lzma
import zlib
from collections.abc import Iterator
from typing import Any

import orjson

from mixer.readers.base import MixerReader, Skip
from mixer.readers.inputs import bounded_lines


class JsonlSourceReader(MixerReader):
    name = "mixer jsonl"

    def records(self, path: str) -> Iterator[tuple[int, Any]]:
        line_no = 0
        limit = self.max_line_bytes()
        try:
            with self.open_input(path) as stream:
                for line_no, raw_line in enumerate(bounded_lines(stream, limit), start=1):
                    if isinstance(raw_line, int):  # never held whole, never parsed
                        yield line_no, Skip("document_too_large", line_no, too_long_line(raw_line, limit))
                        continue
                    if line_no == 1 and raw_line.startswith(b"\xef\xbb\xbf"):
                        raw_line = raw_line[3:]  # a UTF-8 byte order mark (Windows tools write one): not data
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
        except (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError, OSError) as e:
            reason = "unreadable_file" if line_no == 0 and not isinstance(e, EOFError) else "truncated_file"
            yield line_no, Skip(reason, line_no + 1, f"{type(e).__name__}: {e}")
        except Exception as e:  # zstandard.ZstdError is not an OSError
            if type(e).__name__ != "ZstdError":
                raise
            yield (
                line_no,
                Skip("truncated_file" if line_no else "unreadable_file", line_no + 1, f"ZstdError: {e}"),
            )


def too_long_line(length: int, limit: int) -> str:
    return (
        f"a line of {length:,} bytes, skipped unparsed: over {limit:,} bytes, more than any document of "
        "build.max_document_chars characters takes"
    )
