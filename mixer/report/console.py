"""Human-readable summaries of a build (terminal tables)."""

from __future__ import annotations

from typing import Any


def format_table(headers: list[str], rows: list[list[Any]], right: set[int] | None = None) -> str:
    """A plain-text table; columns in ``right`` (by index) are right-aligned."""
    right = right if right is not None else set(range(1, len(headers)))
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=False))
        )

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def summary_table(manifest: dict[str, Any]) -> str:
    """Per source: files, records read, skipped (with reasons), dropped by quality steps, redactions,
    documents and tokens written, shards."""
    rows = []
    for name, s in manifest["sources"].items():
        skipped = sum(s["skipped"].values())
        rows.append(
            [
                name,
                s["type"],
                s["files"],
                f"{s['records']:,}",
                f"{skipped:,}",
                f"{dropped_count(s):,}",
                f"{s['documents']:,}",
                f"{s['tokens']:,}",
                len(s["shards"]),
            ]
        )
    t = manifest["totals"]
    rows.append(
        [
            "total",
            "",
            sum(s["files"] for s in manifest["sources"].values()),
            f"{sum(s['records'] for s in manifest['sources'].values()):,}",
            f"{t['skipped']:,}",
            f"{sum(dropped_count(s) for s in manifest['sources'].values()):,}",
            f"{t['documents']:,}",
            f"{t['tokens']:,}",
            sum(len(s["shards"]) for s in manifest["sources"].values()),
        ]
    )
    table = format_table(
        ["source", "type", "files", "records", "skipped", "dropped", "documents", "tokens", "shards"],
        rows,
        right={2, 3, 4, 5, 6, 7, 8},
    )
    notes = []
    for name, s in manifest["sources"].items():
        for reason, n in s["skipped"].items():
            example = (s["skip_examples"].get(reason) or ["?"])[0]
            notes.append(f"  {name}: {n:,} skipped as {reason} (e.g. {example})")
    if notes:
        table += "\n\nskipped records (all locations: manifest.json, work/):\n" + "\n".join(notes)
    quality = []
    for name, s in manifest["sources"].items():
        for step, reasons in s.get("dropped", {}).items():
            listed = ", ".join(
                f"{reason} {n:,}" for reason, n in sorted(reasons.items(), key=lambda x: -x[1])
            )
            quality.append(f"  {name}: {step} dropped {sum(reasons.values()):,} ({listed})")
        if s.get("redactions"):
            listed = ", ".join(f"{kind} {n:,}" for kind, n in sorted(s["redactions"].items()))
            quality.append(f"  {name}: redacted {listed}")
    if quality:
        table += "\n\nquality steps (documents dropped per step and reason; redactions per kind):\n"
        table += "\n".join(quality)
    return table


def dropped_count(source: dict[str, Any]) -> int:
    return sum(n for reasons in source.get("dropped", {}).values() for n in reasons.values())


def phase_table(manifest: dict[str, Any]) -> str:
    """Per phase and source: target vs realised token share, samples, tokens and repetition."""
    rows = []
    for phase, p in manifest.get("phases", {}).items():
        for name, s in p["sources"].items():
            rows.append(
                [
                    phase,
                    name,
                    f"{s['target_share']:.4%}",
                    f"{s['realised_share']:.4%}",
                    f"{s['samples']:,}",
                    f"{s['tokens']:,}",
                    f"{s['repetition']:.2f}",
                ]
            )
    if not rows:
        return "no phases"
    return format_table(
        ["phase", "source", "target share", "realised", "samples", "tokens", "epochs"],
        rows,
        right={2, 3, 4, 5, 6},
    )
