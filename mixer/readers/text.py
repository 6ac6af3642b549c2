"""A folder of text files (.txt, .md, .rst), local or remote, plain or compressed: each file is one document."""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Iterator
from typing import Any

from mixer.readers.base import MixerReader, Skip


class TextFolderReader(MixerReader):
    name = "mixer text"

    def __init__(self, *args, max_file_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_file_bytes = max_file_bytes

    def records(self, path: str) -> Iterator[tuple[int, Any]]:
        try:
            with self.open_input(path) as f:
                data = f.read(self.max_file_bytes + 1)  # never more: a compressed file cannot expand beyond
        except (OSError, EOFError, zlib.error, lzma.LZMAError) as e:
            yield 0, Skip("unreadable_file", 0, f"{type(e).__name__}: {getattr(e, 'strerror', None) or e}")
            return
        except Exception as e:  # zstandard.ZstdError is not an OSError
            if type(e).__name__ != "ZstdError":
                raise
            yield 0, Skip("unreadable_file", 0, f"ZstdError: {e}")
            return
        if len(data) > self.max_file_bytes:
            yield 0, Skip("file_too_large", 0, f"over {self.max_file_bytes} bytes")
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            yield 0, Skip("invalid_utf8", 0, f"byte {e.start}")
            return
        yield 0, {self.text_key: text, self.id_key: path}
