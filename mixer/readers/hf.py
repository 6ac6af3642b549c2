"""Hugging Face datasets: local dataset folders, data files, or (when the recipe says so) the Hub.

Each data file of the dataset is one unit of work, streamed through ``datasets`` in batches, so a task
never materialises a dataset and resumes per file like the other kinds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mixer.readers.base import MixerReader, Skip


class HFDatasetReader(MixerReader):
    name = "mixer hf"

    def __init__(self, *args, builder: str, builder_kwargs: dict[str, Any], **kwargs):
        super().__init__(*args, **kwargs)
        self.builder = builder
        self.builder_kwargs = builder_kwargs

    def records(self, path: str) -> Iterator[tuple[int, Any]]:
        import datasets

        datasets.logging.set_verbosity_error()
        datasets.disable_progress_bars()
        try:
            ds = datasets.load_dataset(
                self.builder, data_files=[path], split="train", streaming=True, **self.builder_kwargs
            )
            rows = iter(ds)
        except Exception as e:  # datasets raises many kinds; all mean "this file cannot be opened"
            yield 0, Skip("unreadable_file", 0, f"{type(e).__name__}: {e}")
            return
        row = 0
        while True:
            try:
                record = next(rows)
            except StopIteration:
                return
            except Exception as e:
                yield (
                    row,
                    Skip("truncated_file" if row else "unreadable_file", row, f"{type(e).__name__}: {e}"),
                )
                return
            yield row, record
            row += 1
