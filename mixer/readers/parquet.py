"""Parquet files, local or remote, one document per row, read in record batches (never a whole file at once)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mixer.readers.base import MixerReader, Skip
from mixer.sources.locations import is_url


class ParquetSourceReader(MixerReader):
    name = "mixer parquet"
    batch_size = 1024

    def records(self, path: str) -> Iterator[tuple[int, Any]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        # a URL through fsspec (pyarrow seeks in the file: the footer first); a local path natively
        try:
            source = _open_url(path) if is_url(path) else path
            pf = pq.ParquetFile(source)
        except (OSError, pa.ArrowException) as e:
            yield 0, Skip("unreadable_file", 0, f"{type(e).__name__}: {e}")
            return
        try:
            yield from self._rows(pf)
        finally:
            pf.close()
            if not isinstance(source, str):
                source.close()

    def _rows(self, pf: Any) -> Iterator[tuple[int, Any]]:
        import pyarrow as pa

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


def _open_url(url: str) -> Any:
    import fsspec

    try:
        return fsspec.open(url, "rb").open()
    except OSError:
        raise
    except Exception as e:  # a backend's own error kinds
        raise OSError(f"{type(e).__name__}: {e}") from e
