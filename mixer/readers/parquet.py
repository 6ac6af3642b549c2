"""Parquet files, one document per row, read in record batches (never a whole file at once)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mixer.readers.base import MixerReader, Skip


class ParquetSourceReader(MixerReader):
    name = "mixer parquet"
    batch_size = 1024

    def records(self, path: str) -> Iterator[tuple[int, Any]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as e:
            yield 0, Skip("unreadable_file", 0, f"{type(e).__name__}: {e}")
            return
        names = pf.schema_arrow.names
        if self.text_key not in names:
            detail = f"no column '{self.text_key}' among {names[:12]}; set text_key"
            yield 0, Skip("missing_text_column", 0, detail)
            return
        row = 0
        try:
            for batch in pf.iter_batches(batch_size=self.batch_size):
                for record in batch.to_pylist():
                    yield row, record
                    row += 1
        except (OSError, pa.ArrowException) as e:
            yield row, Skip("truncated_file", row, f"{type(e).__name__}: {e}")
