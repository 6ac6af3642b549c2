"""The study's comparison: one JSON of every number, a table on the console, and an HTML page.

The page follows the layout of "To Code or Not to Code": one row of charts per measure — validation bits
per byte per source, HumanEval pass@1, and the natural-language tasks by category (reasoning, knowledge)
— with one bar per mixture and phase evaluated. The charts are inline SVG: the page is one file that
opens anywhere, offline.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from mixer.atomic import write_json_atomic, write_text_atomic
from mixer.build.plan import Echo
from mixer.study.spec import Study

FINAL = "final"


def collect(study: Study, root: Path) -> dict[str, Any]:
    """Every evaluation of the study's checkpoints, by mixture and phase."""
    rows = []
    for mixture, recipe in study.mixtures.items():
        for phase in recipe.phases:
            path = root / mixture / phase / f"{FINAL}.eval.json"
            if not path.is_file():
                continue
            results = json.loads(path.read_text())
            row: dict[str, Any] = {
                "mixture": mixture,
                "phase": phase,
                "weights": recipe.phases[phase].weights,
            }
            if "validation" in results:
                sources = results["validation"]["sources"]
                row["validation"] = sources
                bpb = [s["bpb"] for s in sources.values() if s.get("bpb") is not None]
                row["bpb_mean"] = sum(bpb) / len(bpb) if bpb else None
            if "humaneval" in results:
                he = results["humaneval"]
                row["humaneval"] = {k: v for k, v in he.items() if k != "settings"}
            if "lm_eval" in results:
                tasks = results["lm_eval"]["tasks"]
                row["lm_eval"] = tasks
                categories: dict[str, list[float]] = {}
                for t in tasks.values():
                    categories.setdefault(t["category"], []).append(t["score"])
                row["categories"] = {c: sum(v) / len(v) for c, v in sorted(categories.items())}
            rows.append(row)
    return {"study": study.name, "corpus": study.corpus.name, "rows": rows}


def write_report(results: dict[str, Any], root: Path, echo: Echo = print) -> None:
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / "study.json", results, sort_keys=False)
    write_text_atomic(root / "report.html", render_html(results))
    echo(console_table(results))
    echo(
        f"study {results['study']}: every number in {root / 'study.json'}; the comparison in {root / 'report.html'}"
    )


def console_table(results: dict[str, Any]) -> str:
    from mixer.report.console import format_table

    rows = results["rows"]
    categories = sorted({c for r in rows for c in r.get("categories", {})})
    header = ["mixture", "phase", "val bpb (mean)", "HumanEval pass@1", *[f"NL {c}" for c in categories]]
    table = [
        [
            r["mixture"],
            r["phase"],
            _num(r.get("bpb_mean"), 4),
            _num(r.get("humaneval", {}).get("pass@1"), 3),
            *[_num(r.get("categories", {}).get(c), 3) for c in categories],
        ]
        for r in rows
    ]
    return format_table(header, table)


def _num(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


# --- the page ------------------------------------------------------------------------------------------

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")


def render_html(results: dict[str, Any]) -> str:
    rows = results["rows"]
    labels = [f"{r['mixture']} / {r['phase']}" for r in rows]
    charts = []
    sources = sorted({s for r in rows for s in r.get("validation", {})})
    for source in sources:
        values = [r.get("validation", {}).get(source, {}).get("bpb") for r in rows]
        charts.append(_bars(f"validation bits per byte: {source} (lower is better)", labels, values))
    if any("humaneval" in r for r in rows):
        charts.append(
            _bars("HumanEval pass@1 (greedy)", labels, [r.get("humaneval", {}).get("pass@1") for r in rows])
        )
    categories = sorted({c for r in rows for c in r.get("categories", {})})
    for category in categories:
        values = [r.get("categories", {}).get(category) for r in rows]
        charts.append(_bars(f"natural language: {category} (mean score)", labels, values))
    tasks = sorted({t for r in rows for t in r.get("lm_eval", {})})
    for task in tasks:
        values = [r.get("lm_eval", {}).get(task, {}).get("score") for r in rows]
        charts.append(_bars(f"task {task}", labels, values))
    table = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row in _table_rows(rows, sources, tasks)
    )
    head = "".join(
        f"<th>{html.escape(h)}</th>"
        for h in ["mixture", "phase", *[f"bpb {s}" for s in sources], "pass@1", *tasks]
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>study {html.escape(results["study"])}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}} td:first-child,td:nth-child(2){{text-align:left}}
.charts{{display:flex;flex-wrap:wrap;gap:1.5em}} h1{{font-size:1.4em}}</style></head>
<body><h1>Study {html.escape(results["study"])} on corpus {html.escape(results["corpus"])}</h1>
<p>{len(rows)} checkpoints evaluated. Validation: bits per byte on each source's held-out documents (lower is
better). HumanEval: share of the problems whose greedy completion passes its tests in mixer's sandbox.
Natural language: lm-evaluation-harness scores (accuracy, length-normalised where the task has it).</p>
<table><tr>{head}</tr>{table}</table>
<div class="charts">{"".join(charts)}</div></body></html>
"""


def _table_rows(rows: list[dict[str, Any]], sources: list[str], tasks: list[str]) -> list[list[str]]:
    out = []
    for r in rows:
        bpb = [_num(r.get("validation", {}).get(s, {}).get("bpb"), 4) for s in sources]
        nl = [_num(r.get("lm_eval", {}).get(t, {}).get("score"), 3) for t in tasks]
        out.append([r["mixture"], r["phase"], *bpb, _num(r.get("humaneval", {}).get("pass@1"), 3), *nl])
    return out


def _bars(title: str, labels: list[str], values: list[float | None]) -> str:
    width, bar, gap, left = 420, 18, 6, 170
    height = 30 + len(labels) * (bar + gap)
    top = max((v for v in values if v is not None), default=0) or 1.0
    items = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 24 + i * (bar + gap)
        length = 0 if value is None else (width - left - 60) * value / top
        text = "n/a" if value is None else f"{value:.4g}"
        items.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" font-size="11">{html.escape(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{left + length + 4:.1f}" y="{y + 13}" font-size="11">{text}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
        f'<text x="0" y="14" font-size="13" font-weight="bold">{html.escape(title)}</text>{"".join(items)}</svg>'
    )
