"""A folder of text files (.txt, .md, .rst): each file is one document."""

from __future__ import annotations

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
            with open(path, "rb") as f:
                data = f.read(self.max_file_bytes + 1)
        except OSError as e:
            yield 0, Skip("unreadable_file", 0, f"{type(e).__name__}: {e.strerror or e}")
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
