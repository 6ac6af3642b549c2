import struct

import numpy as np
import pytest

from mixer.shards.format import (
    IndexedDataset,
    IndexedDatasetWriter,
    ShardFormatError,
    dtype_for_vocab,
    encode_index,
)


def test_idx_bytes_for_three_documents_match_hand_computed_layout(tmp_path):
    docs = [[5, 6, 0], [7, 0], [1, 2, 3, 4, 0]]
    with IndexedDatasetWriter(tmp_path / "s", np.uint16) as w:
        for d in docs:
            w.add_document(d)
        info = w.finalize()

    expected = (
        b"MMIDIDX\x00\x00"
        + (1).to_bytes(8, "little")  # version
        + bytes([8])  # uint16
        + (3).to_bytes(8, "little")  # sequences
        + (4).to_bytes(8, "little")  # documents + 1
        + b"".join(n.to_bytes(4, "little") for n in (3, 2, 5))  # sizes
        + b"".join(n.to_bytes(8, "little") for n in (0, 6, 10))  # byte offsets: 3*2, +2*2
        + b"".join(n.to_bytes(8, "little") for n in (0, 1, 2, 3))
    )
    assert (tmp_path / "s.idx").read_bytes() == expected
    assert (tmp_path / "s.bin").read_bytes() == struct.pack("<10H", 5, 6, 0, 7, 0, 1, 2, 3, 4, 0)
    assert (info.documents, info.tokens, info.bin_bytes, info.idx_bytes) == (3, 10, 20, len(expected))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.bin", "s.idx"]  # no temporary files left


def test_reader_returns_each_document_and_ranges(tmp_path):
    with IndexedDatasetWriter(tmp_path / "s", np.int32) as w:
        w.add_documents(np.array([9, 8, 7, 70000, 1], dtype=np.uint32), np.array([2, 3]))
        w.finalize()
    ds = IndexedDataset(tmp_path / "s")
    assert ds.dtype == np.int32 and len(ds) == 2 and ds.num_tokens == 5
    assert ds[0].tolist() == [9, 8] and ds[1].tolist() == [7, 70000, 1] and ds[-1].tolist() == [7, 70000, 1]
    assert ds.get(1, 1, 1).tolist() == [70000]
    assert ds.token_range(0, 2).tolist() == [9, 8, 7, 70000, 1]
    assert [d.tolist() for d in ds] == [[9, 8], [7, 70000, 1]]
    with pytest.raises(IndexError):
        ds[2]


@pytest.mark.parametrize(
    ("vocab", "dtype", "code"),
    [(256, np.uint16, 8), (65536, np.uint16, 8), (65537, np.int32, 4), (200_000, np.int32, 4)],
)
def test_dtype_boundary(tmp_path, vocab, dtype, code):
    assert dtype_for_vocab(vocab) == np.dtype(dtype)
    top = vocab - 1
    with IndexedDatasetWriter(tmp_path / "s", dtype_for_vocab(vocab)) as w:
        w.add_document([top, 0])
        w.finalize()
    assert (tmp_path / "s.idx").read_bytes()[17] == code
    assert IndexedDataset(tmp_path / "s")[0].tolist() == [top, 0]


def test_writer_refuses_ids_that_do_not_fit(tmp_path):
    w = IndexedDatasetWriter(tmp_path / "s", np.uint16)
    with pytest.raises(ValueError, match="65536"):
        w.add_document([65536])
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_nothing_visible_before_finalize_and_abort_cleans_up(tmp_path):
    w = IndexedDatasetWriter(tmp_path / "s", np.uint16)
    w.add_document([1, 2])
    assert not (tmp_path / "s.bin").exists() and not (tmp_path / "s.idx").exists()
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_empty_shard_round_trips(tmp_path):
    IndexedDatasetWriter(tmp_path / "e", np.uint16).finalize()
    ds = IndexedDataset(tmp_path / "e")
    assert len(ds) == 0 and ds.num_tokens == 0
    assert (tmp_path / "e.idx").read_bytes() == encode_index(np.uint16, np.zeros(0))


def test_broken_shards_name_the_file(tmp_path):
    with IndexedDatasetWriter(tmp_path / "s", np.uint16) as w:
        w.add_document([1, 2, 3])
        w.finalize()
    with open(tmp_path / "s.bin", "ab") as f:
        f.write(b"\x00")
    with pytest.raises(ShardFormatError, match=r"s\.bin: 7 bytes"):
        IndexedDataset(tmp_path / "s")
    (tmp_path / "s.idx").write_bytes(b"NOTMAGIC" + bytes(40))
    with pytest.raises(ShardFormatError, match="bad magic"):
        IndexedDataset(tmp_path / "s")
    (tmp_path / "s.idx").unlink()
    with pytest.raises(ShardFormatError, match=r"s\.idx: missing"):
        IndexedDataset(tmp_path / "s")


def test_read_bytes_returns_the_raw_range(tmp_path):
    with IndexedDatasetWriter(tmp_path / "s", np.uint16) as w:
        w.add_documents(np.array([1, 2, 3, 4, 5, 6], dtype=np.uint32), np.array([1, 2, 3]))
        w.finalize()
    ds = IndexedDataset(tmp_path / "s")
    assert ds.read_bytes(1, 3) == struct.pack("<5H", 2, 3, 4, 5, 6)
    assert ds.read_bytes(0, 1) == struct.pack("<H", 1) and ds.read_bytes(2, 2) == b""
