"""`mixer verify`: a good build passes; each kind of damage is found and the first broken file named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import recipe_text

from mixer.cli import main

PHASES = """\
holdout: {fraction: 0.1, max_documents: 2}
phases:
  p: {tokens: 20000, seq_len: 32, weights: {web: 1, code: 1, notes: 1}, max_repetition: 8}
"""


@pytest.fixture(scope="module")
def good(corpus, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verify")
    recipe = tmp / "r.yaml"
    recipe.write_text(recipe_text(corpus["root"], extra=PHASES))
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp / "out")])
    assert result.exit_code == 0, result.output
    return tmp / "out"


@pytest.fixture
def damaged(good, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(good, copy)
    return copy


def verify(folder: Path, *args: str):
    return CliRunner().invoke(main, ["verify", str(folder), *args])


def test_a_good_build_verifies(good):
    result = verify(good)
    assert result.exit_code == 0, result.output
    manifest = json.loads((good / "manifest.json").read_text())
    assert (
        f"verified {good}: 3 shards ({manifest['totals']['tokens']:,} tokens), 3 validation sets, 1 phases"
        in result.output
    )


def test_a_changed_byte_in_a_shard_is_found(damaged):
    path = damaged / "sources" / "code" / "00000.bin"
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    result = verify(damaged)
    assert result.exit_code == 1
    assert f"BROKEN {path}: sha256 differs from its sidecar's" in result.output
    assert verify(damaged, "--quick").exit_code == 0  # the quick check reads index files only


def test_a_truncated_index_is_found(damaged):
    path = damaged / "sources" / "web" / "00000.idx"
    path.write_bytes(path.read_bytes()[:-8])
    result = verify(damaged, "--quick")
    assert result.exit_code == 1
    assert f"BROKEN {path}: " in result.output and "bytes, expected" in result.output


def test_wrong_manifest_totals_are_found(damaged):
    path = damaged / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["totals"]["tokens"] += 1
    path.write_text(json.dumps(manifest))
    result = verify(damaged)
    assert result.exit_code == 1
    assert f"BROKEN {path}: totals.tokens is" in result.output


def test_a_blend_index_out_of_range_is_found(damaged):
    path = damaged / "phases" / "p" / "blend_source.npy"
    source = np.load(path)
    source[7] = 9
    np.save(path, source)
    result = verify(damaged, "--quick")
    assert result.exit_code == 1
    assert f"BROKEN {path}: a source index outside 0..2" in result.output


def test_a_token_outside_the_vocabulary_is_found(damaged):
    shard = damaged / "sources" / "notes" / "00000"
    tokens = np.fromfile(shard.with_suffix(".bin"), dtype=np.uint16)
    tokens[3] = 60000  # the vocabulary has 600 ids
    tokens.tofile(shard.with_suffix(".bin"))
    sidecar = json.loads(shard.with_suffix(".json").read_text())
    import hashlib

    sidecar["bin_sha256"] = hashlib.sha256(shard.with_suffix(".bin").read_bytes()).hexdigest()
    shard.with_suffix(".json").write_text(json.dumps(sidecar))  # as if the sidecar were rewritten too
    result = verify(damaged)
    assert result.exit_code == 1
    assert (
        f"BROKEN {shard.with_suffix('.bin')}: token 3 is id 60000, outside the 600-id vocabulary"
        in result.output
    )


def test_a_missing_file_is_named(damaged):
    path = damaged / "phases" / "p" / "code.order.npy"
    path.unlink()
    result = verify(damaged)
    assert result.exit_code == 1
    assert f"BROKEN {path}: missing" in result.output


def test_a_blend_rewritten_after_the_manifest_is_found(damaged):
    path = damaged / "phases" / "p" / "blend.json"
    blend = json.loads(path.read_text())
    recorded = json.loads((damaged / "manifest.json").read_text())["phases"]["p"]["fingerprint"]
    assert blend["fingerprint"] == recorded
    blend["fingerprint"] = "0" * 16  # as a blend of other weights would be
    path.write_text(json.dumps(blend))
    result = verify(damaged, "--quick")
    assert result.exit_code == 1
    assert f"BROKEN {path}: fingerprint {'0' * 16}, the manifest says {recorded}" in result.output


def test_a_source_rebuilt_after_the_manifest_is_found(damaged):
    path = damaged / "sources" / "web" / "assembled.json"
    assembled = json.loads(path.read_text())
    recorded = assembled["fingerprint"]
    assembled["fingerprint"] = "f" * 16
    path.write_text(json.dumps(assembled))
    result = verify(damaged, "--quick")
    assert result.exit_code == 1
    assert f"BROKEN {path}: fingerprint {'f' * 16}, the manifest says {recorded}" in result.output


def test_an_interrupted_mix_leaves_no_finished_build(good, tmp_path, monkeypatch):
    copy = tmp_path / "out"
    shutil.copytree(good, copy)
    before = (copy / "manifest.json").read_bytes()
    recipe = tmp_path / "r.yaml"
    recipe.write_text((good.parent / "r.yaml").read_text().replace("tokens: 20000", "tokens: 10000"))

    def killed_midway(*args, **kwargs):
        raise KeyboardInterrupt

    import mixer.mixing.mix

    with monkeypatch.context() as m:
        m.setattr(mixer.mixing.mix, "mix", killed_midway)
        result = CliRunner().invoke(main, ["mix", str(recipe), "-o", str(copy)])
    assert result.exit_code == 130
    assert not (copy / "manifest.json").exists()
    result = verify(copy)
    assert result.exit_code == 1
    assert f"BROKEN {copy / 'manifest.json'}: missing: not a finished build" in result.output
    result = CliRunner().invoke(main, ["inspect", str(copy)])
    assert result.exit_code != 0
    assert "a build or mix of it is running or was interrupted" in result.output
    # the same build again finds every source current and writes the blends and the manifest
    result = CliRunner().invoke(main, ["build", str(good.parent / "r.yaml"), "-o", str(copy)])
    assert result.exit_code == 0, result.output
    assert "tokenizing" not in result.output
    assert (copy / "manifest.json").read_bytes() == before
