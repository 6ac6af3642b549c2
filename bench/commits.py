"""Commit streaming: commits/s reading a generated 10,000-commit repository through the git_commits reader.

The repository is written once with `git fast-import` (50 modules of 120 lines; each commit edits one
line of one module, every 25th adds a module, every 100th is a trivial "update" and is filtered) and
cached under bench-out/. Three variants, each in its own process so its peak memory is its own (the
Python process's, and the largest git process's: `git log --topo-order --reverse` lists the commit ids
before it prints the first one, so git's memory grows with the history while mixer's does not):

- ``git log``: :func:`mixer.readers.gitcli.iter_commits` alone, i.e. git's output parsed, no documents;
- ``diff``: the reader in ``format: diff`` (one document per commit);
- ``commitpack``: the reader in ``format: commitpack`` (old and new file contents from `git cat-file`).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "commits"
COMMITS = 10_000
MODULES = 50
LINES = 120


def repository(commits: int = COMMITS) -> Path:
    """The generated repository (built once, then reused)."""
    repo = OUT / f"repo-{commits}"
    if (repo / "done").is_file():
        return repo
    subprocess.run(["rm", "-rf", str(repo)], check=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(repo)], check=True)
    proc = subprocess.Popen(["git", "-C", str(repo), "fast-import", "--quiet"], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    modules = {k: [f"VALUE_{k}_{i} = {i}\n" for i in range(LINES)] for k in range(MODULES)}

    def data(text: str) -> bytes:
        raw = text.encode()
        return b"data %d\n" % len(raw) + raw + b"\n"

    for n in range(commits):
        when = 1_700_000_000 + 60 * n
        k = n % len(modules)
        line = (n * 7) % LINES
        modules[k][line] = f"VALUE_{k}_{line} = {n}  # changed in commit {n}\n"
        message = "update" if n % 100 == 99 else f"Set value {line} of module {k} to {n}\n\nPart of step {n}."
        out = [b"commit refs/heads/main\n"]
        out.append(b"author Ada <ada@example.com> %d +0000\n" % when)
        out.append(b"committer Ada <ada@example.com> %d +0000\n" % when)
        out.append(data(message))
        if n == 0:
            for j, lines in modules.items():
                out.append(b"M 100644 inline pkg/mod_%d.py\n" % j + data("".join(lines)))
        else:
            out.append(b"M 100644 inline pkg/mod_%d.py\n" % k + data("".join(modules[k])))
        if n % 25 == 24:
            j = len(modules)
            modules[j] = [f"VALUE_{j}_{i} = {i}\n" for i in range(LINES)]
            out.append(b"M 100644 inline pkg/mod_%d.py\n" % j + data("".join(modules[j])))
        proc.stdin.write(b"".join(out))
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    (repo / "done").touch()
    return repo


def run_variant(variant: str, repo: Path) -> dict:
    from mixer.readers.gitcli import iter_commits, resolve_ref

    if variant != "git log":  # datatrove and the reader stack, imported before the clock starts
        from mixer.readers.base import Skip
        from mixer.readers.git_commits import GitCommitsReader
        from mixer.sources.git_commits import GitCommitsSource

    start = time.perf_counter()
    commits = documents = skipped = text_bytes = 0
    if variant == "git log":
        for _ in iter_commits(str(repo), resolve_ref(str(repo), "HEAD") or "HEAD"):
            commits += 1
    else:
        source = GitCommitsSource(paths=[str(repo)], format=variant)
        files = source.resolve("bench").files
        reader = GitCommitsReader("bench", files, config=source)
        for line, record in reader.records(str(repo)):
            commits = max(commits, line)
            if isinstance(record, Skip):
                skipped += 1
                continue
            doc = reader.document(record, str(repo), 0, line)
            documents += 1
            text_bytes += len(doc.text)
    seconds = time.perf_counter() - start
    usage = resource.getrusage
    return {
        "commits": commits,
        "documents": documents,
        "skipped": skipped,
        "text_mb": text_bytes / 1e6,
        "seconds": seconds,
        "python_rss_mb": usage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "git_rss_mb": usage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,  # the largest git process
    }


def measure(variant: str, commits: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.commits", variant, str(commits)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(repeats: int = 3, commits: int = COMMITS) -> dict:
    from mixer.report.console import format_table

    cached = (OUT / f"repo-{commits}" / "done").is_file()
    start = time.perf_counter()
    repository(commits)
    made = "cached" if cached else f"written by git fast-import in {time.perf_counter() - start:.1f} s"
    order = ["git log", "diff", "commitpack"]
    runs: dict[str, list[dict]] = {v: [] for v in order}
    for _ in range(repeats):  # interleaved, so machine noise hits every variant alike
        for v in order:
            runs[v].append(measure(v, commits))
    results = {}
    for v in order:
        first = runs[v][0]
        results[v] = {
            **first,
            "rate": statistics.median(r["commits"] / r["seconds"] for r in runs[v]),
            "python_rss_mb": statistics.median(r["python_rss_mb"] for r in runs[v]),
            "git_rss_mb": statistics.median(r["git_rss_mb"] for r in runs[v]),
        }
    print(
        f"\nCommit streaming: a generated repository of {commits:,} commits ({made}), "
        f"one process per run, median of {repeats} runs"
    )
    print(
        format_table(
            [
                "variant",
                "commits",
                "documents",
                "skipped",
                "text MB",
                "commits/s",
                "Python RSS MB",
                "git RSS MB",
            ],
            [
                [
                    v,
                    f"{r['commits']:,}",
                    f"{r['documents']:,}",
                    f"{r['skipped']:,}",
                    f"{r['text_mb']:.1f}",
                    f"{r['rate']:,.0f}",
                    f"{r['python_rss_mb']:.0f}",
                    f"{r['git_rss_mb']:.0f}",
                ]
                for v, r in results.items()
            ],
        )
    )
    return results


if __name__ == "__main__":
    if len(sys.argv) == 3:
        print(json.dumps(run_variant(sys.argv[1], repository(int(sys.argv[2])))))
    else:
        main()
