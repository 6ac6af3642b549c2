"""The HTML report: exact numbers on the page, escaping, well-formed SVG, the CLI, and a real browser render."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mixer.cli import main
from mixer.errors import MixerError
from mixer.report import html as report_html
from mixer.report.console import phase_table, summary_table
from mixer.report.html import render_report, write_report
from mixer.shards.format import IndexedDatasetWriter

SVG = "{http://www.w3.org/2000/svg}"
CODE = "code<script>"  # a source name that would inject markup if it were not escaped
BAD_REASON = "bad<script>alert(1)</script>"
WEB_LENGTHS = [3, 5, 8, 13, 21, 34, 55, 89, 144, 233]  # 10 documents, 605 tokens
CODE_SHARDS = [[100, 200, 300], [1000, 2000]]  # 5 documents in two shards, 3,600 tokens


def write_shard(prefix: Path, lengths: list[int]) -> dict:
    writer = IndexedDatasetWriter(prefix, np.uint16)
    for n in lengths:
        writer.add_document(np.arange(n) % 50)
    info = writer.finalize()
    return {"name": prefix.name, "documents": info.documents, "tokens": info.tokens}


def phase_entry(target: float, realised: float, samples: int, repetition: float, started: int) -> dict:
    return {
        "target_share": target,
        "realised_share": realised,
        "samples": samples,
        "tokens": samples * 9,
        "repetition": repetition,
        "epochs_started": started,
    }


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A two-source, two-phase output folder written by hand, as `mixer build` lays it out."""
    folder = tmp_path / "out"
    web = [write_shard(folder / "sources" / "web" / "00000", WEB_LENGTHS)]
    code = [write_shard(folder / "sources" / CODE / f"{i:05d}", ls) for i, ls in enumerate(CODE_SHARDS)]
    manifest = {
        "recipe": {
            "name": "tiny",
            "hash": "sha256:abc123",
            "path": "recipes/tiny.yaml",
            "resolved": {"name": "tiny", "phases": {"pretrain": {"max_repetition": 4.0}}},
        },
        "tokenizer": {"vocab_size": 600, "eos_id": 0, "eos_token": "<|endoftext|>", "backend": "hf"},
        "dtype": "uint16",
        "created_by": "mixer test",
        "sources": {
            "web": {
                "type": "jsonl",
                "files": 2,
                "input_bytes": 4_500,
                "records": 13,
                "skipped": {"empty_text": 2, BAD_REASON: 1},
                "skip_examples": {"empty_text": ["web/a.jsonl:4"], BAD_REASON: ["web/<b>.jsonl:7"]},
                "documents": 10,
                "tokens": 605,
                "shards": web,
            },
            CODE: {
                "type": "parquet",
                "files": 1,
                "input_bytes": 12_345_678,
                "records": 5,
                "skipped": {},
                "skip_examples": {},
                "documents": 5,
                "tokens": 3600,
                "shards": code,
            },
        },
        "validation": {"web": {"documents": 1, "tokens": 13}, CODE: {"documents": 1, "tokens": 100}},
        "phases": {
            "pretrain": {
                "seq_len": 8,
                "samples": 100,
                "tokens": 900,
                "sources": {
                    "web": phase_entry(0.25, 0.25, 25, 1.5, 2),
                    CODE: phase_entry(0.75, 0.75, 75, 0.1875, 1),
                },
            },
            "cooldown": {
                "seq_len": 8,
                "samples": 7,
                "tokens": 63,
                "sources": {
                    "web": phase_entry(0.5, 3 / 7, 3, 0.05, 1),
                    CODE: phase_entry(0.5, 4 / 7, 4, 0.01, 1),
                },
            },
        },
        "totals": {"documents": 15, "tokens": 4205, "skipped": 3},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    blend = {"sources": {"web": {"weight": 1, "training_tokens_available": 592}}}
    blend["sources"][CODE] = {"weight": 3, "training_tokens_available": 3500}
    (folder / "phases" / "pretrain").mkdir(parents=True)
    (folder / "phases" / "pretrain" / "blend.json").write_text(json.dumps(blend))
    return folder


class Tables(HTMLParser):
    """Every table of a page as rows of cell texts (entities decoded)."""

    def __init__(self, page: str):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def find(self, first_header: str, second_header: str) -> list[list[list[str]]]:
        """The body rows of each table whose header starts with these two cells."""
        return [t[1:] for t in self.tables if t[0][:2] == [first_header, second_header]]


def svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", page, re.S)]


def titles(svg: ET.Element) -> list[str]:
    return [t.text for t in svg.iter(f"{SVG}title")]


def test_header_names_the_recipe_tokenizer_and_totals(built):
    page = render_report(built)
    assert "<title>mixer report: tiny</title>" in page
    assert "<code>sha256:abc123</code>" in page and "recipes/tiny.yaml" in page
    assert "hf, 600 ids, EOS <code>&lt;|endoftext|&gt;</code> = 0" in page
    assert "<code>uint16</code>" in page
    for fact, value in [("documents", "15"), ("tokens", "4,205"), ("records skipped", "3")]:
        assert f"<dt>{fact}</dt><dd>{value}</dd>" in page


def test_phase_tables_hold_exact_shares_epochs_and_blend_details(built):
    tables = Tables(render_report(built))
    pretrain, cooldown = tables.find("source", "weight")
    assert pretrain == [
        ["web", "1", "25.0000%", "25.0000%", "+0.0000 pp", "25", "225", "592", "1.50", "2"],
        [CODE, "3", "75.0000%", "75.0000%", "+0.0000 pp", "75", "675", "3,500", "0.19", "1"],
    ]
    # no blend.json for the cooldown: weights and available tokens are unknown, the rest is the manifest's
    assert cooldown == [
        ["web", "—", "50.0000%", "42.8571%", "-7.1429 pp", "3", "27", "—", "0.05", "1"],
        [CODE, "—", "50.0000%", "57.1429%", "+7.1429 pp", "4", "36", "—", "0.01", "1"],
    ]
    page = render_report(built)
    assert "sequence length 8 · 100 samples · 900 tokens · repetition cap 4.00 epochs" in page
    assert "sequence length 8 · 7 samples · 63 tokens</p>" in page


def test_source_tables_count_kept_skipped_and_validation(built):
    tables = Tables(render_report(built))
    [kept] = tables.find("source", "type")
    assert kept == [
        ["web", "jsonl", "2", "4.5 kB", "13", "10", "3", "0", "76.92%", "605", "1"],
        [CODE, "parquet", "1", "12.3 MB", "5", "5", "0", "0", "100.00%", "3,600", "2"],
    ]
    [split] = tables.find("source", "training documents")
    assert split == [["web", "9", "592", "1", "13"], [CODE, "4", "3,500", "1", "100"]]
    [skips] = tables.find("source", "reason")
    assert skips == [
        ["web", "empty_text", "2", "15.38%", "web/a.jsonl:4"],
        ["web", BAD_REASON, "1", "7.69%", "web/<b>.jsonl:7"],
    ]


def test_drops_by_quality_steps_and_dedup_are_shown_and_count_against_kept(built):
    # a source cut from 163 records to 10 documents, mostly by its quality steps: not "76.92% kept"
    path = built / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["sources"]["web"].update(
        records=163,
        dropped={
            "dedup": {f"exact_of_{CODE}": 10},
            "gopher_quality": {"gopher_below_alpha_threshold": 40, "gopher_short_doc": 100},
        },
    )
    manifest["sources"][CODE]["input_bytes"] = None  # git repositories have no known size
    manifest["totals"]["dropped"] = 150
    path.write_text(json.dumps(manifest))
    page = render_report(built)
    tables = Tables(page)
    [kept] = tables.find("source", "type")
    assert kept == [
        ["web", "jsonl", "2", "4.5 kB", "163", "10", "3", "150", "6.13%", "605", "1"],
        [CODE, "parquet", "1", "unknown", "5", "5", "0", "0", "100.00%", "3,600", "2"],
    ]
    [drops] = tables.find("source", "step")
    assert drops == [
        ["web", "dedup", f"exact_of_{CODE}", "10", "6.13%"],
        ["web", "gopher_quality", "gopher_short_doc", "100", "61.35%"],
        ["web", "gopher_quality", "gopher_below_alpha_threshold", "40", "24.54%"],
    ]
    assert "<dt>documents dropped</dt><dd>150</dd>" in page
    stacked = svgs(page)[2]
    assert titles(stacked)[:5] == [
        "web, training: 9 documents (5.52%)",
        "web, validation (held out): 1 documents (0.61%)",
        f"web, skipped: {BAD_REASON}: 1 documents (0.61%)",
        "web, skipped: empty_text: 2 documents (1.23%)",
        "web, dropped: dedup: 10 documents (6.13%)",
    ]
    assert titles(stacked)[5] == "web, dropped: gopher_quality: 140 documents (85.89%)"
    assert [t.text for t in stacked.iter(f"{SVG}text") if t.text.endswith("kept")] == [
        "6.13% kept",
        "100.00% kept",
    ]


def test_a_build_without_drops_says_so(built):
    assert "No document was dropped by a quality step or deduplication." in render_report(built)


def test_length_table_has_exact_percentiles_of_every_document(built):
    page = render_report(built)
    [lengths] = Tables(page).find("source", "documents")
    assert lengths == [
        ["web", "10", "10", "3", "60.5", "21", "144", "233", "233"],
        [CODE, "5", "5", "100", "720.0", "300", "2,000", "2,000", "2,000"],
    ]
    assert "Every document was measured." in page


def test_large_sources_are_sampled_deterministically_and_the_page_says_so(built, monkeypatch):
    monkeypatch.setattr(report_html, "MAX_LENGTH_SAMPLE", 4)
    page = render_report(built)
    assert page == render_report(built)
    [lengths] = Tables(page).find("source", "documents")
    assert [row[:3] for row in lengths] == [["web", "10", "4"], [CODE, "5", "4"]]
    assert (
        "measured on a uniform random sample of 4 (seed 0): web (4 of 10), code&lt;script&gt; (4 of 5)."
    ) in page
    sample, total = report_html._length_sample(
        built, CODE, json.loads((built / "manifest.json").read_text())["sources"][CODE]
    )
    assert total == 5 and len(sample) == 4 and set(sample.tolist()) < {100, 200, 300, 1000, 2000}


def test_text_from_the_build_is_escaped(built):
    page = render_report(built)
    assert "<script" not in page.lower()
    assert "code&lt;script&gt;" in page
    assert "bad&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "web/&lt;b&gt;.jsonl:7" in page


def test_svgs_are_well_formed_and_carry_the_exact_numbers(built):
    share_pretrain, share_cooldown, stacked, hist_web, hist_code = svgs(render_report(built))
    assert all(s.tag == f"{SVG}svg" for s in (share_pretrain, share_cooldown, stacked, hist_web, hist_code))
    assert titles(share_cooldown) == [
        "web: target 50.0000%",
        "web: realised 42.8571%",
        f"{CODE}: target 50.0000%",
        f"{CODE}: realised 57.1429%",
    ]
    assert titles(stacked) == [
        "web, training: 9 documents (69.23%)",
        "web, validation (held out): 1 documents (7.69%)",
        f"web, skipped: {BAD_REASON}: 1 documents (7.69%)",  # reasons in the legend's order
        "web, skipped: empty_text: 2 documents (15.38%)",
        f"{CODE}, training: 4 documents (80.00%)",
        f"{CODE}, validation (held out): 1 documents (20.00%)",
    ]
    assert [t.text for t in stacked.iter(f"{SVG}text") if t.text.endswith("kept")] == [
        "76.92% kept",
        "100.00% kept",
    ]
    # every document falls in exactly one histogram bar
    for svg, documents in ((hist_web, 10), (hist_code, 5)):
        counts = [int(re.search(r": (\d+) documents$", t).group(1)) for t in titles(svg)]
        assert sum(counts) == documents
    marks = [t.text for t in hist_code.iter(f"{SVG}text") if t.text.startswith("p")]
    assert marks == ["p50 300", "p90 2,000", "p99 2,000"]


def test_a_missing_shard_is_reported_on_the_page(built):
    (built / "sources" / CODE / "00001.bin").unlink()
    page = render_report(built)
    assert "Shard not readable: code&lt;script&gt;:" in page and "00001.bin: missing" in page
    assert len(svgs(page)) == 4  # the other source's histogram is still drawn


def test_write_report_defaults_to_the_folder(built, tmp_path):
    assert write_report(built) == built / "report.html"
    assert (built / "report.html").read_text() == render_report(built)
    out = write_report(built, tmp_path / "elsewhere" / "r.html")
    assert out == tmp_path / "elsewhere" / "r.html" and out.is_file()


def test_a_folder_without_manifest_is_a_user_error(tmp_path):
    with pytest.raises(MixerError, match=r"empty: no manifest.json.*run that build first"):
        render_report(tmp_path / "empty")


def test_cli_writes_the_page_and_prints_the_tables(built, tmp_path):
    result = CliRunner().invoke(main, ["report", str(built)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((built / "manifest.json").read_text())
    assert result.output == (
        f"{summary_table(manifest)}\n\n{phase_table(manifest)}\n\nwrote {built / 'report.html'}\n"
    )
    assert (built / "report.html").read_text() == render_report(built)
    result = CliRunner().invoke(main, ["report", str(built), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0 and (tmp_path / "r.html").is_file()
    assert result.output.endswith(f"wrote {tmp_path / 'r.html'}\n")


def test_cli_exits_2_for_a_folder_without_manifest(tmp_path):
    (tmp_path / "nothing").mkdir()
    result = CliRunner().invoke(main, ["report", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert f"Error: {tmp_path / 'nothing'}: no manifest.json" in result.output
    assert not (tmp_path / "nothing" / "report.html").exists()


# --- a real browser -----------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    # `make test` installs it (the Makefile's browser target); the check must run, not be skipped
    assert CHROMIUM.exists(), "the headless render check needs Debian's chromium: run `make browser`"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def png_facts(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the (filtered) pixel data."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def screenshot(tmp_path: Path, page: Path, name: str) -> Path:
    png = tmp_path / name
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,2000", page.as_uri())
    assert png.is_file()
    return png


def test_chromium_renders_the_page(built, tmp_path):
    page = write_report(built)
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    shot = screenshot(tmp_path, page, "report.png")
    empty = screenshot(tmp_path, blank, "blank.png")
    width, height, distinct = png_facts(shot)
    assert (width, height) == (1200, 2000)
    assert shot.stat().st_size > 10_000 and shot.stat().st_size > 5 * empty.stat().st_size
    # one colour filters to a handful of byte values; text, bars and colours give many
    assert png_facts(empty)[2] < 10 and distinct > 100


def test_chromium_parses_every_svg(built, tmp_path):
    page = write_report(built)
    html = page.read_text()
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert html.count("<svg") == 5
    assert dom.count("<svg") == 5
    assert dom.count("<rect") == html.count("<rect") and dom.count("<table") == html.count("<table") == 6
