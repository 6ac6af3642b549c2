"""The Megatron IndexedDataset byte format: the only module that knows it.

A shard is a pair of files sharing a prefix:

``<prefix>.idx`` (all little-endian)::

    magic    9 bytes   b"MMIDIDX\\x00\\x00"
    version  uint64    1
    dtype    uint8     Megatron dtype code (8 = uint16, 4 = int32, ...)
    S        uint64    number of sequences
    D        uint64    number of documents + 1 (= S + 1: one sequence per document)
    sizes    int32[S]  tokens per sequence
    pointers int64[S]  byte offset of each sequence in .bin
    docs     int64[D]  document boundaries 0..S

``<prefix>.bin``: the token arrays concatenated, no header.

This is the layout of megatron/core/datasets/indexed_dataset.py, so Megatron-LM, NeMo and our trainer
open our shards unchanged. Writers are two-phase (write under a temporary name, rename on finalize) so a
reader never sees a half-written shard.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
HEADER_SIZE = len(MAGIC) + 8 + 1 + 8 + 8  # magic, version, dtype code, S, D

# Megatron's codes; there is no uint32 code, which is why large vocabularies use int32.
DTYPE_CODES: dict[int, np.dtype] = {
    1: np.dtype(np.uint8),
    2: np.dtype(np.int8),
    3: np.dtype(np.int16),
    4: np.dtype(np.int32),
    5: np.dtype(np.int64),
    6: np.dtype(np.float64),
    7: np.dtype(np.float32),
    8: np.dtype(np.uint16),
}
CODE_OF_DTYPE = {dtype: code for code, dtype in DTYPE_CODES.items()}

UINT16_MAX_VOCAB = 65536  # ids 0..65535 fit in uint16


class ShardFormatError(Exception):
    """A shard's files are missing, truncated or not in the IndexedDataset format."""


def dtype_for_vocab(vocab_size: int) -> np.dtype:
    """The token dtype for a vocabulary of ``vocab_size`` ids: uint16 up to 65,536 ids, else int32."""
    if vocab_size <= 0:
        raise ValueError(f"vocabulary size must be positive, got {vocab_size}")
    if vocab_size <= UINT16_MAX_VOCAB:
        return np.dtype(np.uint16)
    if vocab_size <= np.iinfo(np.int32).max + 1:
        return np.dtype(np.int32)
    raise ValueError(f"vocabulary of {vocab_size} ids does not fit Megatron's int32 token dtype")


def bin_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}.bin")


def idx_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}.idx")


def encode_index(dtype: np.dtype, sizes: np.ndarray) -> bytes:
    """The complete ``.idx`` file for sequences of the given token counts (one document per sequence)."""
    dtype = np.dtype(dtype)
    sizes = np.asarray(sizes, dtype=np.int32)
    count = len(sizes)
    pointers = np.zeros(count, dtype=np.int64)
    if count > 1:
        np.cumsum(sizes[:-1].astype(np.int64) * dtype.itemsize, out=pointers[1:])
    documents = np.arange(count + 1, dtype=np.int64)
    header = MAGIC + struct.pack("<Q", VERSION) + struct.pack("<B", CODE_OF_DTYPE[dtype])
    header += struct.pack("<Q", count) + struct.pack("<Q", count + 1)
    return (
        header
        + sizes.astype("<i4").tobytes()
        + pointers.astype("<i8").tobytes()
        + documents.astype("<i8").tobytes()
    )


@dataclass(frozen=True)
class ShardInfo:
    """What a finalized shard holds; the source of its JSON sidecar."""

    prefix: Path
    documents: int
    tokens: int
    dtype: str
    bin_sha256: str
    idx_sha256: str
    bin_bytes: int
    idx_bytes: int


class IndexedDatasetWriter:
    """Appends documents to a new shard; nothing is visible under ``prefix`` until :meth:`finalize`.

    Token data streams to disk as it arrives (memory stays flat); only the per-document sizes are kept,
    4 bytes a document.
    """

    def __init__(self, prefix: str | Path, dtype: np.dtype):
        self.prefix = Path(prefix)
        self.dtype = np.dtype(dtype)
        if self.dtype not in CODE_OF_DTYPE:
            raise ValueError(f"dtype {self.dtype} has no Megatron code")
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        self._tmp_bin = Path(f"{prefix}.bin.tmp-{os.getpid()}")
        self._tmp_idx = Path(f"{prefix}.idx.tmp-{os.getpid()}")
        self._bin = open(self._tmp_bin, "wb")  # noqa: SIM115 - closed in finalize/abort
        self._bin_hash = hashlib.sha256()
        self._sizes: list[np.ndarray] = []
        self.documents = 0
        self.tokens = 0
        self._limit = np.iinfo(self.dtype).max if self.dtype.kind in "iu" else None

    def add_documents(self, tokens: np.ndarray, lengths: np.ndarray) -> None:
        """Append documents given as one flat token array and the length of each document."""
        lengths = np.asarray(lengths, dtype=np.int64)
        if int(lengths.sum()) != len(tokens):
            raise ValueError(f"lengths sum to {int(lengths.sum())} but {len(tokens)} tokens were given")
        if len(tokens) and self._limit is not None and int(tokens.max()) > self._limit:
            raise ValueError(f"token id {int(tokens.max())} does not fit {self.dtype}")
        data = np.ascontiguousarray(tokens, dtype=self.dtype.newbyteorder("<")).tobytes()
        self._write(data, lengths)

    def add_document(self, tokens: Sequence[int] | np.ndarray) -> None:
        arr = np.asarray(tokens)
        self.add_documents(arr, np.array([len(arr)]))

    def add_raw(self, data: bytes | memoryview, lengths: np.ndarray) -> None:
        """Append documents already encoded in this writer's dtype (a byte range copied from another shard)."""
        lengths = np.asarray(lengths, dtype=np.int64)
        if int(lengths.sum()) * self.dtype.itemsize != len(data):
            raise ValueError("raw data size does not match the document lengths")
        self._write(data, lengths)

    def _write(self, data: bytes | memoryview, lengths: np.ndarray) -> None:
        if len(lengths) == 0:
            return
        if int(lengths.max()) > np.iinfo(np.int32).max:
            raise ValueError("a document longer than 2**31-1 tokens cannot be indexed")
        self._bin.write(data)
        self._bin_hash.update(data)
        self._sizes.append(lengths.astype(np.int32))
        self.documents += len(lengths)
        self.tokens += int(lengths.sum())

    def finalize(self) -> ShardInfo:
        """Write the index, then move both files into place (``.bin`` first, so an ``.idx`` implies its data)."""
        self._bin.flush()
        os.fsync(self._bin.fileno())
        self._bin.close()
        sizes = np.concatenate(self._sizes) if self._sizes else np.zeros(0, dtype=np.int32)
        index = encode_index(self.dtype, sizes)
        with open(self._tmp_idx, "wb") as f:
            f.write(index)
            f.flush()
            os.fsync(f.fileno())
        os.replace(self._tmp_bin, bin_path(self.prefix))
        os.replace(self._tmp_idx, idx_path(self.prefix))
        return ShardInfo(
            prefix=self.prefix,
            documents=self.documents,
            tokens=self.tokens,
            dtype=self.dtype.name,
            bin_sha256=self._bin_hash.hexdigest(),
            idx_sha256=hashlib.sha256(index).hexdigest(),
            bin_bytes=self.tokens * self.dtype.itemsize,
            idx_bytes=len(index),
        )

    def abort(self) -> None:
        """Drop everything written so far."""
        if not self._bin.closed:
            self._bin.close()
        for path in (self._tmp_bin, self._tmp_idx):
            path.unlink(missing_ok=True)

    def __enter__(self) -> IndexedDatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


class IndexedDataset:
    """Read-only, memory-mapped view of one shard: ``len(ds)`` documents, ``ds[i]`` the tokens of document i.

    Nothing is loaded: the index arrays and the token data are numpy memmaps over the files.
    """

    def __init__(self, prefix: str | Path):
        self.prefix = Path(prefix)
        idx_file, data_file = idx_path(self.prefix), bin_path(self.prefix)
        for path in (idx_file, data_file):
            if not path.is_file():
                raise ShardFormatError(f"{path}: missing (a shard needs both .idx and .bin)")
        idx_size = idx_file.stat().st_size
        if idx_size < HEADER_SIZE:
            raise ShardFormatError(
                f"{idx_file}: {idx_size} bytes is shorter than the {HEADER_SIZE}-byte header"
            )
        with open(idx_file, "rb") as f:
            header = f.read(HEADER_SIZE)
        if header[: len(MAGIC)] != MAGIC:
            raise ShardFormatError(f"{idx_file}: not a Megatron IndexedDataset index (bad magic bytes)")
        version, code, count, doc_count = struct.unpack_from("<QBQQ", header, len(MAGIC))
        if version != VERSION:
            raise ShardFormatError(f"{idx_file}: index version {version}, expected {VERSION}")
        if code not in DTYPE_CODES:
            raise ShardFormatError(f"{idx_file}: unknown dtype code {code}")
        expected = HEADER_SIZE + count * 4 + count * 8 + doc_count * 8
        if idx_size != expected:
            raise ShardFormatError(f"{idx_file}: {idx_size} bytes, expected {expected} for {count} sequences")
        self.dtype = DTYPE_CODES[code]
        self._index = np.memmap(idx_file, mode="r", dtype=np.uint8)
        offset = HEADER_SIZE
        self.sizes = np.frombuffer(self._index, dtype="<i4", count=count, offset=offset)
        offset += count * 4
        self.pointers = np.frombuffer(self._index, dtype="<i8", count=count, offset=offset)
        offset += count * 8
        self.document_indices = np.frombuffer(self._index, dtype="<i8", count=doc_count, offset=offset)
        bin_size = data_file.stat().st_size
        self.num_tokens = int(self.sizes.sum(dtype=np.int64))
        if bin_size != self.num_tokens * self.dtype.itemsize:
            raise ShardFormatError(
                f"{data_file}: {bin_size} bytes, but the index describes {self.num_tokens} tokens of {self.dtype}"
            )
        # np.memmap refuses empty files; an empty shard has no data to map.
        self._data = (
            np.memmap(data_file, mode="r", dtype=self.dtype.newbyteorder("<"))
            if bin_size
            else np.zeros(0, dtype=self.dtype)
        )

    def __len__(self) -> int:
        return len(self.sizes)

    def __getitem__(self, i: int) -> np.ndarray:
        if not -len(self) <= i < len(self):
            raise IndexError(f"document {i} out of range for {len(self)} documents in {self.prefix}")
        i = i % len(self)
        start = int(self.pointers[i]) // self.dtype.itemsize
        return self._data[start : start + int(self.sizes[i])]

    def get(self, i: int, offset: int = 0, length: int | None = None) -> np.ndarray:
        """Tokens ``offset:offset+length`` of document ``i``."""
        doc = self[i]
        end = len(doc) if length is None else offset + length
        return doc[offset:end]

    def token_range(self, first: int, last: int) -> np.ndarray:
        """The concatenated tokens of documents ``first..last-1`` (a contiguous slice of ``.bin``)."""
        if first >= last:
            return self._data[0:0]
        start = int(self.pointers[first]) // self.dtype.itemsize
        end = int(self.pointers[last - 1]) // self.dtype.itemsize + int(self.sizes[last - 1])
        return self._data[start:end]

    def read_bytes(self, first: int, last: int) -> bytes:
        """The raw ``.bin`` bytes of documents ``first..last-1``, read with ``pread`` rather than mapped.

        For copying between shards: the bytes pass through a bounded buffer instead of staying mapped
        (and counted) in the process's memory.
        """
        if first >= last:
            return b""
        start = int(self.pointers[first])
        end = int(self.pointers[last - 1]) + int(self.sizes[last - 1]) * self.dtype.itemsize
        fd = os.open(bin_path(self.prefix), os.O_RDONLY)
        try:
            chunks, offset = [], start
            while offset < end:
                chunk = os.pread(fd, min(end - offset, 1 << 26), offset)
                if not chunk:
                    raise ShardFormatError(f"{bin_path(self.prefix)}: ends before byte {end}")
                chunks.append(chunk)
                offset += len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]
