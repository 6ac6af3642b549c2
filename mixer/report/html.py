"""``mixer report``: one self-contained HTML page about a build, with tables and inline SVG charts.

The page needs nothing but a browser: the CSS is inline, the charts are SVG drawn here (no plotting
library, no script, no external font or image), and every string taken from the build is escaped, since
source names, skip reasons and recipe paths come from users' files.
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from mixer.atomic import write_text_atomic
from mixer.shards.format import IndexedDataset, ShardFormatError
from mixer.shards.manifest import read_manifest

MAX_LENGTH_SAMPLE = 200_000  # documents per source whose lengths are read; more are sampled
LENGTH_SAMPLE_SEED = 0
BINS_PER_DECADE = 5

# Tableau 10: distinct, colour-blind tolerable, readable on white.
SOURCE_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#bab0ac"]
SKIP_COLOURS = ["#e15759", "#ff9da7", "#d37295", "#fabfd2", "#b6992d", "#f1ce63"]
DROP_COLOURS = ["#8c564b", "#c49c94", "#7f7f7f", "#bcbd22", "#17becf", "#9467bd"]
TRAINING_COLOUR, VALIDATION_COLOUR = "#4e79a7", "#a0cbe8"


def render_report(folder: Path) -> str:
    """The HTML page describing the build in ``folder``."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    names = list(manifest["sources"])
    colours = {name: SOURCE_COLOURS[i % len(SOURCE_COLOURS)] for i, name in enumerate(names)}
    body = [_header(folder, manifest)]
    for phase, summary in manifest.get("phases", {}).items():
        body.append(_phase_section(folder, manifest, phase, summary, colours))
    body.append(_sources_section(manifest))
    body.append(_lengths_section(folder, manifest, colours))
    recipe_json = json.dumps(manifest["recipe"].get("resolved", {}), indent=2, sort_keys=True)
    body.append(
        f"<section><details><summary>Resolved recipe</summary><pre>{escape(recipe_json)}</pre></details>"
        "</section>"
    )
    title = escape(f"mixer report: {manifest['recipe'].get('name', folder.name)}")
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{title}</title>\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )


def write_report(folder: Path, out: Path | None = None) -> Path:
    """Write the page (``FOLDER/report.html`` unless ``out`` is given), atomically; return its path."""
    out = Path(out) if out is not None else Path(folder) / "report.html"
    page = render_report(folder)
    write_text_atomic(out, page)
    return out


# ---------------------------------------------------------------------------------------------- sections


def _share(x: float) -> str:
    return f"{x:.4%}"  # as the terminal's phase_table prints it


def _table(headers: list[str], rows: list[list[str]], text: set[int] | None = None) -> str:
    """A table of already escaped cells; columns not in ``text`` (default: the first) are right-aligned numbers."""
    text = text if text is not None else {0}

    def cells(tag: str, row: list[str]) -> str:
        return "".join(
            f"<{tag}>{c}</{tag}>" if i in text else f'<{tag} class="num">{c}</{tag}>'
            for i, c in enumerate(row)
        )

    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    head = cells("th", headers)
    return f'<div class="table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _header(folder: Path, manifest: dict[str, Any]) -> str:
    recipe, tok, totals = manifest["recipe"], manifest["tokenizer"], manifest["totals"]
    facts = [
        ("recipe", f"<strong>{escape(str(recipe.get('name', '?')))}</strong>"),
        ("recipe file", escape(str(recipe.get("path", "?")))),
        ("recipe hash", f"<code>{escape(str(recipe.get('hash', '?')))}</code>"),
        (
            "tokenizer",
            f"{escape(str(tok.get('backend', '?')))}, {tok.get('vocab_size', 0):,} ids, "
            f"EOS <code>{escape(str(tok.get('eos_token', '?')))}</code> = {escape(str(tok.get('eos_id', '?')))}",
        ),
        ("token dtype", f"<code>{escape(str(manifest['dtype']))}</code>"),
        ("documents", f"{totals.get('documents', 0):,}"),
        ("tokens", f"{totals.get('tokens', 0):,}"),
        ("records skipped", f"{totals.get('skipped', 0):,}"),
        ("documents dropped", f"{totals.get('dropped', 0):,}"),
        ("sources", str(len(manifest["sources"]))),
        ("phases", escape(", ".join(manifest.get("phases", {})) or "none")),
    ]
    items = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)
    made = escape(str(manifest.get("created_by", "mixer")))
    return (
        f"<header><h1>Build report: {escape(str(recipe.get('name', '?')))}</h1>"
        f'<p class="note">{escape(str(folder))}, written by {made}</p><dl class="facts">{items}</dl></header>'
    )


def _phase_section(
    folder: Path, manifest: dict[str, Any], phase: str, p: dict[str, Any], colours: dict[str, str]
) -> str:
    blend_path = folder / "phases" / phase / "blend.json"
    try:
        blend = json.loads(blend_path.read_text(encoding="utf-8")).get("sources", {})
    except (OSError, ValueError):
        blend = {}  # the manifest holds everything but weights and available tokens
    resolved = manifest["recipe"].get("resolved", {}).get("phases", {}).get(phase, {})
    cap = resolved.get("max_repetition")
    meta = [f"sequence length {p.get('seq_len', 0):,}", f"{p.get('samples', 0):,} samples"]
    meta.append(f"{p.get('tokens', 0):,} tokens")
    if cap is not None:
        meta.append(f"repetition cap {cap:.2f} epochs")
    rows, bars = [], []
    for name, s in p["sources"].items():
        b = blend.get(name, {})
        available = b.get("training_tokens_available")
        rows.append(
            [
                escape(name),
                f"{b['weight']:g}" if "weight" in b else "—",
                _share(s["target_share"]),
                _share(s["realised_share"]),
                f"{(s['realised_share'] - s['target_share']) * 100:+.4f} pp",
                f"{s['samples']:,}",
                f"{s['tokens']:,}",
                f"{available:,}" if available is not None else "—",
                f"{s['repetition']:.2f}",
                f"{s.get('epochs_started', 0):,}",
            ]
        )
        bars.append((name, s["target_share"], s["realised_share"], colours.get(name, SOURCE_COLOURS[0])))
    table = _table(
        [
            "source",
            "weight",
            "target share",
            "realised share",
            "realised − target",
            "samples",
            "tokens",
            "tokens available",
            "epochs (repetition)",
            "epochs started",
        ],
        rows,
    )
    return (
        f'<section><h2>Phase {escape(phase)}</h2><p class="note">{" · ".join(meta)}</p>'
        f'<div class="chart">{_share_chart(phase, bars)}</div>{table}'
        "<p class=\"note\">Shares are of the phase's tokens. Epochs: how many times the source's training "
        "documents are read in this phase (above 1, the source repeats); epochs started counts shuffled "
        "passes begun.</p></section>"
    )


def _sources_section(manifest: dict[str, Any]) -> str:
    sources, validation = manifest["sources"], manifest.get("validation", {})
    reasons = sorted({r for s in sources.values() for r in s.get("skipped", {})})
    reason_colours = {r: SKIP_COLOURS[i % len(SKIP_COLOURS)] for i, r in enumerate(reasons)}
    steps = list(dict.fromkeys(step for s in sources.values() for step in s.get("dropped", {})))
    step_colours = {step: DROP_COLOURS[i % len(DROP_COLOURS)] for i, step in enumerate(steps)}
    kept_rows, split_rows, skip_rows, drop_rows, stacks = [], [], [], [], []
    for name, s in sources.items():
        skipped = s.get("skipped", {})
        n_skipped = sum(skipped.values())
        dropped: dict[str, dict[str, int]] = s.get("dropped", {})
        n_dropped = {step: sum(reasons.values()) for step, reasons in dropped.items()}
        # every record read ends as a document, a skip (never a document) or a drop (by a quality step or dedup)
        seen = s["documents"] + n_skipped + sum(n_dropped.values())
        v = validation.get(name, {"documents": 0, "tokens": 0})
        input_bytes = s.get("input_bytes", 0)
        kept_rows.append(
            [
                escape(name),
                escape(str(s.get("type", "?"))),
                f"{s.get('files', 0):,}",
                _bytes(input_bytes) if input_bytes is not None else "unknown",
                f"{s.get('records', 0):,}",
                f"{s['documents']:,}",
                f"{n_skipped:,}",
                f"{sum(n_dropped.values()):,}",
                f"{s['documents'] / seen:.2%}" if seen else "—",
                f"{s['tokens']:,}",
                f"{len(s.get('shards', [])):,}",
            ]
        )
        split_rows.append(
            [
                escape(name),
                f"{s['documents'] - v['documents']:,}",
                f"{s['tokens'] - v['tokens']:,}",
                f"{v['documents']:,}",
                f"{v['tokens']:,}",
            ]
        )
        for reason, n in skipped.items():
            example = (s.get("skip_examples", {}).get(reason) or [""])[0]
            share = f"{n / seen:.2%}" if seen else "—"
            skip_rows.append([escape(name), escape(reason), f"{n:,}", share, escape(example)])
        for step, reasons_of_step in dropped.items():
            for reason, n in sorted(reasons_of_step.items(), key=lambda x: (-x[1], x[0])):
                share = f"{n / seen:.2%}" if seen else "—"
                drop_rows.append([escape(name), escape(step), escape(reason), f"{n:,}", share])
        segments = [
            ("training", s["documents"] - v["documents"], TRAINING_COLOUR),
            ("validation (held out)", v["documents"], VALIDATION_COLOUR),
        ] + [(f"skipped: {r}", skipped[r], reason_colours[r]) for r in sorted(skipped)]
        segments += [(f"dropped: {step}", n_dropped[step], step_colours[step]) for step in dropped]
        stacks.append((name, segments))
    legend = [("training", TRAINING_COLOUR), ("validation (held out)", VALIDATION_COLOUR)]
    legend += [(f"skipped: {r}", reason_colours[r]) for r in reasons]
    legend += [(f"dropped: {step}", step_colours[step]) for step in steps]
    kept = _table(
        [
            "source",
            "type",
            "files",
            "input",
            "records",
            "documents kept",
            "skipped",
            "dropped",
            "kept",
            "tokens",
            "shards",
        ],
        kept_rows,
        text={0, 1},
    )
    split = _table(
        ["source", "training documents", "training tokens", "validation documents", "validation tokens"],
        split_rows,
    )
    if skip_rows:
        skips = "<h3>Skipped records by reason</h3>" + _table(
            ["source", "reason", "records", "share of source", "first example"], skip_rows, text={0, 1, 4}
        )
    else:
        skips = '<p class="note">No record was skipped.</p>'
    if drop_rows:
        drops = "<h3>Dropped documents by step and reason</h3>" + _table(
            ["source", "step", "reason", "documents", "share of source"], drop_rows, text={0, 1, 2}
        )
    else:
        drops = '<p class="note">No document was dropped by a quality step or deduplication.</p>'
    return (
        f"<section><h2>Sources</h2>"
        f'<div class="chart">{_stacked_chart(stacks, legend)}</div>'
        f"<h3>Documents and tokens kept</h3>{kept}"
        '<p class="note">Records are the input rows read; skipped records (with their reasons) never became '
        "documents, so they have no token count; dropped documents were removed by a quality step or by "
        "deduplication. Kept is the share of all three that was kept. Kept documents are split into "
        f"training and validation below.</p><h3>Training and validation</h3>{split}{skips}{drops}</section>"
    )


def _lengths_section(folder: Path, manifest: dict[str, Any], colours: dict[str, str]) -> str:
    samples, problems = {}, []
    for name, entry in manifest["sources"].items():
        try:
            samples[name] = _length_sample(folder, name, entry)
        except ShardFormatError as e:
            problems.append(f"{name}: {e}")
    rows, charts, sampled = [], [], []
    lengths = [lengths for lengths, _ in samples.values() if len(lengths)]
    span = (min(int(x.min()) for x in lengths), max(int(x.max()) for x in lengths)) if lengths else (1, 1)
    for name, (lengths, total) in samples.items():
        if len(lengths) < total:
            sampled.append(f"{escape(name)} ({len(lengths):,} of {total:,})")
        if not len(lengths):
            rows.append([escape(name), "0", "0"] + ["—"] * 6)
            continue
        p50, p90, p99 = (int(v) for v in np.percentile(lengths, [50, 90, 99], method="inverted_cdf"))
        rows.append(
            [
                escape(name),
                f"{total:,}",
                f"{len(lengths):,}",
                f"{int(lengths.min()):,}",
                f"{lengths.mean():,.1f}",
                f"{p50:,}",
                f"{p90:,}",
                f"{p99:,}",
                f"{int(lengths.max()):,}",
            ]
        )
        chart = _histogram(name, lengths, span, {"p50": p50, "p90": p90, "p99": p99}, colours[name])
        charts.append(f'<figure class="chart"><figcaption>{escape(name)}</figcaption>{chart}</figure>')
    note = (
        "Tokens per document as stored in the source shards (end-of-document token included), on a "
        "logarithmic axis shared by all sources; dashed lines mark the median, p90 and p99."
    )
    if sampled:
        note += (
            f" Sources with more than {MAX_LENGTH_SAMPLE:,} documents are measured on a uniform random "
            f"sample of {MAX_LENGTH_SAMPLE:,} (seed {LENGTH_SAMPLE_SEED}): {', '.join(sampled)}."
        )
    else:
        note += " Every document was measured."
    trouble = "".join(f'<p class="problem">Shard not readable: {escape(p)}</p>' for p in problems)
    table = _table(["source", "documents", "measured", "min", "mean", "median", "p90", "p99", "max"], rows)
    return (
        f'<section><h2>Document lengths</h2><p class="note">{note}</p>{trouble}{table}'
        f'<div class="histograms">{"".join(charts)}</div></section>'
    )


def _length_sample(folder: Path, name: str, entry: dict[str, Any]) -> tuple[np.ndarray, int]:
    """Token counts of (a deterministic sample of) the source's documents, and how many documents it has."""
    # .sizes are memory-mapped: only the sampled entries are read, however large the source.
    sizes = [IndexedDataset(folder / "sources" / name / shard["name"]).sizes for shard in entry["shards"]]
    starts = np.cumsum([0] + [len(s) for s in sizes])
    total = int(starts[-1])
    if total <= MAX_LENGTH_SAMPLE:
        return (np.concatenate(sizes).astype(np.int64) if sizes else np.zeros(0, np.int64)), total
    picks = np.sort(np.random.default_rng(LENGTH_SAMPLE_SEED).choice(total, MAX_LENGTH_SAMPLE, replace=False))
    shard_of = np.searchsorted(starts, picks, side="right") - 1
    out = np.empty(len(picks), dtype=np.int64)
    for k, shard_sizes in enumerate(sizes):
        mask = shard_of == k
        out[mask] = shard_sizes[picks[mask] - starts[k]]
    return out, total


def _bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f'<span title="{n:,} bytes">{n / size:.1f} {unit}</span>'
    return f"{n:,} B"


# ------------------------------------------------------------------------------------------------- SVG

_SVG_NS = "http://www.w3.org/2000/svg"
CHAR_W = 7.0  # a 12px system-font character, roughly: enough to lay out labels without measuring text


def _svg(width: float, height: float, label: str, parts: list[str]) -> str:
    return (
        f'<svg xmlns="{_SVG_NS}" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" role="img" aria-label="{escape(label)}">' + "".join(parts) + "</svg>"
    )


def _text(x: float, y: float, s: str, anchor: str = "start", cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{c}>{escape(s)}</text>'


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str, extra: str = "") -> str:
    return (
        f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(w, 0):.2f}" height="{h:.2f}" fill="{fill}"{extra}>'
        f"<title>{escape(tip)}</title></rect>"
    )


def _line(x1: float, y1: float, x2: float, y2: float, cls: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="{cls}"/>'


def _clip(s: str, n: int = 28) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _nice_step(top: float, most: int) -> float:
    """The smallest step of 1, 2 or 5 times a power of ten that covers ``[0, top]`` in ``most`` steps."""
    power = 10 ** math.floor(math.log10(top / most))
    return next(m * power for m in (1, 2, 5, 10) if top / (m * power) <= most)


def _legend(items: list[tuple[str, str]], x0: float, y: float, width: float) -> tuple[list[str], float]:
    """Swatches with labels, wrapped to ``width``; returns the parts and the y below the last row."""
    parts, x = [], x0
    for label, style in items:
        label = _clip(label, 40)
        w = 22 + CHAR_W * len(label) + 18
        if x + w > x0 + width and x > x0:
            x, y = x0, y + 20
        parts.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="14" height="12" {style}/>')
        parts.append(_text(x + 20, y, label))
        x += w
    return parts, y + 16


def _share_chart(phase: str, bars: list[tuple[str, float, float, str]]) -> str:
    """Grouped horizontal bars: each source's target share (pale) above its realised share (solid)."""
    width, bar, gap = 960, 13, 14
    label_w = min(max([len(_clip(n)) for n, *_ in bars] + [6]) * CHAR_W + 16, 220)
    plot_x, plot_w = label_w, width - label_w - 90
    top = max([max(t, r) for _, t, r, _ in bars] + [0.01])
    step = _nice_step(top, 8)
    axis_max = step * math.ceil(top / step - 1e-9)
    parts, y = _legend(
        [
            ("target share", 'fill="#999" fill-opacity="0.35" stroke="#999"'),
            ("realised share", 'fill="#555"'),
        ],
        plot_x,
        16,
        plot_w,
    )
    y0 = y + 4
    height = y0 + len(bars) * (2 * bar + gap) + 28
    for k in range(round(axis_max / step) + 1):
        x = plot_x + plot_w * k * step / axis_max
        parts.append(_line(x, y0 - 4, x, height - 24, "gridline"))
        parts.append(_text(x, height - 8, f"{k * step:.0%}" if step >= 0.01 else f"{k * step:.1%}", "middle"))
    for i, (name, target, realised, colour) in enumerate(bars):
        y = y0 + i * (2 * bar + gap)
        parts.append(_text(plot_x - 8, y + bar + 4, _clip(name), "end"))
        for j, (what, share) in enumerate((("target", target), ("realised", realised))):
            w = plot_w * share / axis_max
            style = f' fill-opacity="0.35" stroke="{colour}"' if what == "target" else ""
            yy = y + j * bar
            parts.append(_rect(plot_x, yy, w, bar - 1, colour, f"{name}: {what} {_share(share)}", style))
            parts.append(_text(plot_x + w + 4, yy + bar - 3, f"{share:.2%}", cls="value"))
    parts.append(_line(plot_x, y0 - 4, plot_x, height - 24, "axis"))
    return _svg(width, height, f"target and realised token share per source, phase {phase}", parts)


def _stacked_chart(
    stacks: list[tuple[str, list[tuple[str, int, str]]]], legend: list[tuple[str, str]]
) -> str:
    """One bar per source, 100% wide: training, validation, each skip reason's and each dropping step's
    share of its records."""
    width, bar, gap = 960, 20, 10
    label_w = min(max([len(_clip(n)) for n, _ in stacks] + [6]) * CHAR_W + 16, 220)
    plot_x, plot_w = label_w, width - label_w - 110
    parts, y0 = _legend([(label, f'fill="{c}"') for label, c in legend], plot_x, 16, plot_w + 100)
    y0 += 4
    height = y0 + len(stacks) * (bar + gap) + 24
    for k in range(5):
        x = plot_x + plot_w * k / 4
        parts.append(_line(x, y0 - 4, x, height - 24, "gridline"))
        parts.append(_text(x, height - 8, f"{k * 25}%", "middle"))
    for i, (name, segments) in enumerate(stacks):
        y = y0 + i * (bar + gap)
        total = sum(n for _, n, _ in segments)
        parts.append(_text(plot_x - 8, y + bar - 5, _clip(name), "end"))
        x = plot_x
        for label, n, colour in segments:
            if n == 0:
                continue
            # a non-zero share stays visible (at least a pixel), the table has the exact count
            w = max(plot_w * n / total, 1.0)
            parts.append(_rect(x, y, w, bar, colour, f"{name}, {label}: {n:,} documents ({n / total:.2%})"))
            x += w
        kept = sum(n for label, n, _ in segments if not label.startswith(("skipped", "dropped")))
        parts.append(
            _text(plot_x + plot_w + 8, y + bar - 5, f"{kept / total:.2%} kept" if total else "empty")
        )
    return _svg(width, height, "documents kept, skipped and dropped per source", parts)


def _histogram(
    name: str, lengths: np.ndarray, span: tuple[int, int], marks: dict[str, int], colour: str
) -> str:
    """Documents per length bin, bins equally wide on a log axis shared by every source."""
    width, height, left, right, top, bottom = 460, 250, 56, 14, 48, 40
    lo = math.floor(math.log10(max(span[0], 1)) * BINS_PER_DECADE)
    hi = math.floor(math.log10(max(span[1], 1)) * BINS_PER_DECADE) + 1
    edges = 10.0 ** (np.arange(lo, hi + 1) / BINS_PER_DECADE)
    counts, _ = np.histogram(np.maximum(lengths, 1), bins=edges)
    pw, ph = width - left - right, height - top - bottom

    def xpos(v: float) -> float:
        return left + pw * (math.log10(v) * BINS_PER_DECADE - lo) / (hi - lo)

    step = _nice_step(max(int(counts.max()), 1), 5)
    step = max(step, 1)
    ymax = step * math.ceil(max(int(counts.max()), 1) / step)
    parts = []
    for k in range(round(ymax / step) + 1):
        y = top + ph - ph * k * step / ymax
        parts.append(_line(left, y, left + pw, y, "gridline"))
        parts.append(_text(left - 6, y + 4, f"{k * step:,.0f}", "end"))
    for power in range(math.ceil(lo / BINS_PER_DECADE), math.floor(hi / BINS_PER_DECADE) + 1):
        x = xpos(10**power)
        parts.append(_line(x, top + ph, x, top + ph + 4, "axis"))
        parts.append(_text(x, top + ph + 17, _short(10**power), "middle"))
    for count, a, b in zip(counts, edges[:-1], edges[1:], strict=True):
        if count:
            h = ph * int(count) / ymax
            x0, x1 = xpos(a), xpos(b)
            tip = f"{math.ceil(a):,}–{math.ceil(b) - 1:,} tokens: {int(count):,} documents"
            parts.append(_rect(x0 + 0.5, top + ph - h, x1 - x0 - 1, h, colour, tip))
    for k, (label, value) in enumerate(marks.items()):
        x = xpos(max(value, 1))
        # one label row each, above the plot, so close percentiles stay legible; lines start below them
        parts.append(_line(x, top - 6, x, top + ph, "mark"))
        end = x > width - right - 70  # near the right edge the label goes left of its line
        parts.append(
            _text(
                x - 3 if end else x + 3,
                top - 34 + 12 * k,
                f"{label} {value:,}",
                "end" if end else "start",
                "value",
            )
        )
    parts.append(_line(left, top + ph, left + pw, top + ph, "axis"))
    parts.append(_text(left + pw / 2, height - 4, "tokens per document (log scale)", "middle", "caption"))
    return _svg(width, height, f"document length histogram, source {name}", parts)


def _short(v: float) -> str:
    for suffix, size in (("M", 1e6), ("k", 1e3)):
        if v >= size:
            return f"{v / size:g}{suffix}"
    return f"{v:g}"


_CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #1f2328;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
header, section { background: #fff; border: 1px solid #d8dee4; border-radius: 8px; padding: 16px 22px;
  margin: 0 0 18px; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 18px; margin: 0 0 6px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 12.5px; }
.note { color: #59636e; margin: 4px 0 10px; }
.problem { color: #b42318; font-weight: 600; }
dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 8px 20px;
  margin: 12px 0 0; }
dl.facts div { min-width: 0; }
dt { color: #59636e; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; font-size: 13px;
  font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e6e9ed; text-align: left; vertical-align: top; }
th { font-size: 12px; color: #59636e; font-weight: 600; border-bottom: 2px solid #d8dee4; }
td.num { text-align: right; white-space: nowrap; }
th.num { text-align: right; }
td { overflow-wrap: break-word; }
.table { overflow-x: auto; }
tbody tr:hover { background: #f6f8fa; }
.chart { margin: 8px 0; }
.chart svg, figure svg { max-width: 100%; height: auto; display: block; }
.histograms { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 8px 18px; }
figure { margin: 10px 0 0; }
figcaption { font-weight: 600; margin-bottom: 2px; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #1f2328; }
svg text.value { fill: #59636e; font-size: 11px; }
svg text.caption { fill: #59636e; }
svg .gridline { stroke: #e6e9ed; stroke-width: 1; }
svg .axis { stroke: #8c959f; stroke-width: 1; }
svg .mark { stroke: #1f2328; stroke-width: 1; stroke-dasharray: 4 3; }
details summary { cursor: pointer; font-weight: 600; }
pre { background: #f6f8fa; padding: 10px; border-radius: 6px; overflow-x: auto; }
"""
