"""The ``github_prs`` reader: JSON Lines of pull requests, each rendered into one document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datatrove.data import Document

from mixer.readers.base import Skip
from mixer.readers.jsonl import JsonlSourceReader
from mixer.render.pull_requests import Drop, PRRenderer

if TYPE_CHECKING:
    from mixer.sources.base import InputFile
    from mixer.sources.github_prs import GithubPRsSource


class GithubPRsReader(JsonlSourceReader):
    name = "mixer github prs"

    def __init__(self, source: str, files: list[InputFile], *, config: GithubPRsSource):
        super().__init__(source, files)
        self.renderer = PRRenderer(config)

    def document(self, record: Any, path: str, index: int, line: int) -> Document | Skip:
        rendered = self.renderer.render(record)
        if isinstance(rendered, Drop):
            return Skip(rendered.reason, line, rendered.detail)
        removed = rendered.metadata["bot_comments_removed"]
        if removed:
            self.stat_update("bot_comments_removed", value=removed)
        metadata = {
            **rendered.metadata,
            "source": self.source,
            "origin": f"{path}:{line}",
            "file_index": index,
        }
        return Document(text=rendered.text, id=f"{metadata['repo']}#{metadata['number']}", metadata=metadata)
