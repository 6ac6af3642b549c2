"""The on-disk contract: what a build leaves for the mixer, the trainer and any Megatron reader.

- :mod:`mixer.shards.format`: Megatron's IndexedDataset ``.bin``/``.idx`` (the only module that knows the bytes);
- :mod:`mixer.shards.tokenizer`: the tokenizer stored with the shards, its fingerprint and encoder;
- :mod:`mixer.shards.manifest`: ``manifest.json``;
- :mod:`mixer.shards.verify`: ``mixer verify``, every shard and blend against its sidecar and the manifest;
- :mod:`mixer.shards.inspect`: ``mixer inspect``, documents and rejected documents decoded.
"""

from mixer.shards.format import IndexedDataset, IndexedDatasetWriter, ShardFormatError, dtype_for_vocab

__all__ = ["IndexedDataset", "IndexedDatasetWriter", "ShardFormatError", "dtype_for_vocab"]
