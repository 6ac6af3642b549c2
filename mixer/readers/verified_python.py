"""Reader for ``verified_python``: JSON Lines problems in, verified (problem, solution) documents out.

A file's records are verified concurrently (``workers`` sandboxes at a time, a bounded window of records
in flight) and come out in the order of the file's lines, so the shards do not depend on which candidate
finished first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from datatrove.data import Document
from loguru import logger

from mixer.readers.base import Skip
from mixer.readers.jsonl import JsonlSourceReader
from mixer.sandbox.run import Limits
from mixer.sandbox.verifier import DEFAULT_FORBIDDEN_IMPORTS, Candidate, Verdict, Verifier
from mixer.sources.base import InputFile, describe_record_keys


@dataclass(frozen=True)
class Problem:
    """A record that passed its checks, on its way to becoming a document."""

    id: Any
    prompt: str
    candidate: Candidate
    extra: dict[str, Any]  # the record's other fields, kept as metadata
    verdict: Verdict | None = None


def render(prompt: str, solution: str, tests: str | None = None) -> str:
    """The document: the problem statement, then the solution (and the tests) as fenced Python."""
    parts = [prompt.strip()] if prompt.strip() else []
    parts.append(f"```python\n{_code(solution)}\n```")
    if tests is not None:
        parts.append(f"```python\n{_code(tests)}\n```")
    return "\n\n".join(parts) + "\n"


def _code(source: str) -> str:
    return source.replace("\r\n", "\n").strip("\n").rstrip()


class VerifiedPythonReader(JsonlSourceReader):
    name = "mixer verified_python"

    def __init__(
        self,
        source: str,
        files: list[InputFile],
        *,
        id_key: str = "id",
        prompt_key: str = "prompt",
        solution_key: str = "solution",
        tests_key: str = "tests",
        include_tests: bool = False,
        limits: Limits | None = None,
        workers: int | None = None,
        forbidden_imports: list[str] = DEFAULT_FORBIDDEN_IMPORTS,
        policy: str = "strict",
        max_chars: int = 100_000,
    ):
        super().__init__(source, files, text_key=solution_key, id_key=id_key)
        self.keys = {"prompt": prompt_key, "solution": solution_key, "tests": tests_key}
        self.include_tests = include_tests
        self.limits = limits or Limits()
        self.workers = workers
        self.forbidden_imports = list(forbidden_imports)
        self.policy = policy
        self.max_chars = max_chars
        self._isolation_logged = False

    def problem(self, record: Any, line: int) -> Problem | Skip:
        """The record's fields, or the reason it is malformed."""
        if not isinstance(record, dict):
            return Skip("not_an_object", line, type(record).__name__)
        fields = {}
        for role, key in self.keys.items():
            value = record.get(key)
            if value is None:
                return Skip("missing_field", line, f"{key}; keys: {describe_record_keys(record)}")
            if role == "tests" and isinstance(value, list) and all(isinstance(v, str) for v in value):
                value = "\n".join(value)  # MBPP-style: a list of assert statements
            if not isinstance(value, str):
                return Skip("field_not_a_string", line, f"{key}: {type(value).__name__}")
            if role != "prompt" and not value.strip():
                return Skip("empty_field", line, key)
            fields[role] = value
        if len(fields["solution"]) + len(fields["tests"]) > self.max_chars:
            return Skip("too_long", line, f"{len(fields['solution']) + len(fields['tests'])} chars")
        skip = {self.id_key, *self.keys.values()}
        return Problem(
            id=record.get(self.id_key),
            prompt=fields["prompt"],
            candidate=Candidate(fields["solution"], fields["tests"]),
            extra={k: v for k, v in record.items() if k not in skip},
        )

    def records(self, path: str) -> Iterator[tuple[int, Any]]:
        """Verified problems (or the reason each is not one), in the order of the file's lines."""
        with Verifier(
            self.limits, workers=self.workers, forbidden_imports=self.forbidden_imports, policy=self.policy
        ) as verifier:
            self._log_isolation(verifier)
            window: deque[tuple[int, Problem | Skip, Future[Verdict] | None]] = deque()
            for line, record in super().records(path):
                item = record if isinstance(record, Skip) else self.problem(record, line)
                future = verifier.submit(item.candidate) if isinstance(item, Problem) else None
                window.append((line, item, future))
                # hand on every finished record at the head; never hold more than the window
                while window and (len(window) > 2 * verifier.workers or _ready(window[0][2])):
                    yield _resolve(*window.popleft())
            while window:
                yield _resolve(*window.popleft())

    def sample_records(self, path: str) -> Iterator[tuple[int, Any]]:
        """Problems as they are, unverified: a text sample for the tokenizer need not run anything."""
        self.sampling = True  # lines bounded as every sample's are
        for line, record in super().records(path):
            yield line, record if isinstance(record, Skip) else self.problem(record, line)

    def document(self, record: Any, path: str, index: int, line: int) -> Document | Skip:
        problem: Problem = record
        candidate = problem.candidate
        metadata = dict(problem.extra)
        metadata.update(problem.verdict.metadata() if problem.verdict else {})
        metadata.update(source=self.source, origin=f"{path}:{line}", file_index=index)
        return Document(
            text=render(problem.prompt, candidate.solution, candidate.tests if self.include_tests else None),
            id=str(problem.id) if problem.id is not None else f"{self.source}/{index}/{line}",
            metadata=metadata,
        )

    def _log_isolation(self, verifier: Verifier) -> None:
        """Check once per task that the sandbox runs at all, and say what isolation it has here."""
        if self._isolation_logged:
            return
        probe = verifier.sandbox.probe()
        logger.info(f"{self.source}: sandbox isolation: {', '.join(probe.isolation)}")
        for note in probe.notes:
            logger.warning(f"{self.source}: sandbox: {note}")
        self._isolation_logged = True


def _ready(future: Future | None) -> bool:
    return future is None or future.done()


def _resolve(line: int, item: Problem | Skip, future: Future[Verdict] | None) -> tuple[int, Any]:
    if future is None:
        return line, item
    verdict = future.result()
    if not verdict.passed:
        return line, Skip(verdict.reason or "failed_test", line, verdict.detail)
    return line, Problem(item.id, item.prompt, item.candidate, item.extra, verdict)
