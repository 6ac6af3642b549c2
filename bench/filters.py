"""Throughput of the code quality filter and the PII redactor on the standard library's sources.

Input: every ``*.py`` file of the running interpreter's standard library (test suites included,
site-packages excluded), read once into memory as documents with their relative path as
``metadata["path"]``. Each step runs in this one process over all of them, three times; the table gives
the median rate in documents and MB of UTF-8 text per second, then what the steps did (drops by rule,
redactions by kind) so that a change in speed can be told from a change in behaviour.
"""

from __future__ import annotations

import statistics
import sysconfig
import time
from collections import Counter
from pathlib import Path

from datatrove.data import Document


def stdlib_documents() -> list[Document]:
    root = Path(sysconfig.get_paths()["stdlib"])
    docs = []
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        rel = path.relative_to(root).as_posix()
        docs.append(Document(text=text, id=rel, metadata={"path": rel, "language": "Python"}))
    return docs


def time_code_filter(docs: list[Document]) -> tuple[float, Counter]:
    from mixer.filters.code import CodeQualityFilter

    step = CodeQualityFilter()
    reasons: Counter = Counter()
    start = time.perf_counter()
    for doc in docs:
        result = step.filter(doc)
        if result is not True:
            reasons[result[1]] += 1
    return time.perf_counter() - start, reasons


def time_redactor(docs: list[Document]) -> tuple[float, Counter]:
    from mixer.filters.pii import PIIRedactor

    step = PIIRedactor()
    counts: Counter = Counter()
    start = time.perf_counter()
    for doc in docs:
        counts.update(step.redact(doc.text, language="Python", path=doc.metadata["path"])[1])
    return time.perf_counter() - start, counts


def main(repeats: int = 3) -> dict:
    from mixer.report.console import format_table

    docs = stdlib_documents()
    mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    steps = {"code_quality (CodeQualityFilter)": time_code_filter, "pii (PIIRedactor)": time_redactor}
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    outcome: dict[str, Counter] = {}
    for _ in range(repeats):  # interleaved, so machine noise hits both alike
        for name, run in steps.items():
            elapsed, outcome[name] = run(docs)
            seconds[name].append(elapsed)
    rows = []
    for name in steps:
        s = statistics.median(seconds[name])
        rows.append([name, f"{len(docs) / s:,.0f}", f"{mb / s:.1f}", f"{s:.2f}"])
    print(
        f"\nCode filter and PII redaction on the standard library's *.py ({len(docs):,} files, {mb:.1f} MB), "
        f"one process, median of {repeats} runs"
    )
    print(format_table(["step", "docs/s", "MB/s", "seconds"], rows))
    code, pii = outcome.values()
    print(f"code_quality drops: {dict(code.most_common()) or 'none'} ({sum(code.values())} of {len(docs)})")
    print(f"pii redactions: {dict(pii.most_common()) or 'none'}")
    return {
        "documents": len(docs),
        "mb": mb,
        "seconds": seconds,
        "drops": dict(code),
        "redactions": dict(pii),
    }


if __name__ == "__main__":
    main()
