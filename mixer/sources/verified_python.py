"""The ``verified_python`` kind: synthetic Python problems whose solutions pass their tests in a sandbox.

"To Code or Not to Code" found that high-quality synthetic, formally verified Python helps more than its
share of tokens. This kind reads JSON Lines problems (``{id, prompt, solution, tests}``, key names
configurable), runs every solution against its tests in :mod:`mixer.sandbox.run` and keeps only those that
pass; every other one is counted under the reason it failed (see :mod:`mixer.sandbox.verifier`). The policy
(:mod:`mixer.sandbox.policy`) says what a solution may not contain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from mixer.sources.base import GlobSource, InputFile, register_source

if TYPE_CHECKING:
    from datatrove.pipeline.base import PipelineStep

# the same list as mixer.sandbox.verifier.DEFAULT_FORBIDDEN_IMPORTS, spelled out so the recipe loads without it
FORBIDDEN_IMPORTS = [
    "_posixsubprocess",
    "ctypes",
    "http",
    "importlib",
    "multiprocessing",
    "os",
    "posix",
    "pty",
    "shutil",
    "signal",
    "socket",
    "subprocess",
    "urllib",
]


@register_source
class VerifiedPythonSource(GlobSource):
    """JSON Lines problems; a problem whose solution passes its tests in the sandbox is one document."""

    kind: ClassVar[str] = "verified_python"
    type: Literal["verified_python"] = "verified_python"
    directory_suffixes: ClassVar[tuple[str, ...]] = (
        ".jsonl",
        ".jsonl.gz",
        ".jsonl.zst",
        ".jsonl.bz2",
        ".jsonl.xz",
        ".json.gz",
        ".ndjson",
    )

    id_key: str = Field("id", description="Field holding the problem id (file/line when absent).")
    prompt_key: str = Field("prompt", description="Field holding the problem statement.")
    solution_key: str = Field("solution", description="Field holding the solution's Python source.")
    tests_key: str = Field(
        "tests", description="Field holding the tests: Python source, or a list of statements (asserts)."
    )
    include_tests: bool = Field(False, description="Render the tests after the solution in the document.")
    timeout: float = Field(10.0, gt=0, le=3600, description="Wall-clock seconds a candidate may run.")
    cpu_seconds: float | None = Field(None, gt=0, le=3600, description="CPU seconds (default: `timeout`).")
    memory_mb: int = Field(1024, ge=64, description="Address space of each candidate process, in MiB.")
    file_size_mb: int = Field(16, ge=1, description="Largest file a candidate may write, in MiB.")
    disk_mb: int = Field(64, ge=1, description="Size of a candidate's writable folder, in MiB.")
    max_files: int = Field(
        4096, ge=16, description="Files and folders a candidate may create in its folder (inodes)."
    )
    max_processes: int = Field(32, ge=1, description="Processes and threads a candidate may have at once.")
    max_output_bytes: int = Field(
        65536,
        ge=1024,
        description="Bytes of each output stream kept for the verdict (the rest is discarded).",
    )
    max_chars: int = Field(
        100_000, gt=0, description="Longer solutions (with their tests) are skipped as too_long, unparsed."
    )
    forbidden_imports: list[str] = Field(
        default=FORBIDDEN_IMPORTS,
        description="Modules (and their submodules) a solution or its tests may not import, found statically "
        "before anything runs; [] allows all.",
    )
    policy: Literal["strict", "standard"] = Field(
        "strict",
        description="What a solution may not contain, checked before it runs (docs/sandbox.md lists each "
        "rule): strict also refuses dunder attributes, shadowed built-ins and file access.",
    )
    workers: int | None = Field(
        None, ge=1, description="Candidates run at once per build task (default: the number of CPUs)."
    )

    def reader(self, name: str, files: list[InputFile]) -> PipelineStep:
        from mixer.readers.verified_python import VerifiedPythonReader
        from mixer.sandbox.run import Limits

        limits = Limits(
            timeout=self.timeout,
            cpu_seconds=self.cpu_seconds,
            memory_mb=self.memory_mb,
            file_size_mb=self.file_size_mb,
            disk_mb=self.disk_mb,
            max_files=self.max_files,
            max_processes=self.max_processes,
            max_output_bytes=self.max_output_bytes,
        )
        return VerifiedPythonReader(
            name,
            files,
            id_key=self.id_key,
            prompt_key=self.prompt_key,
            solution_key=self.solution_key,
            tests_key=self.tests_key,
            include_tests=self.include_tests,
            limits=limits,
            workers=self.workers,
            forbidden_imports=self.forbidden_imports,
            policy=self.policy,
            max_chars=self.max_chars,
        )
