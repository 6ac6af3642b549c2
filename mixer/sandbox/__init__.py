"""Untrusted Python: the sandbox that contains it and the verifier that judges a candidate.

- :mod:`mixer.sandbox.run`: :class:`Sandbox`, a separate, limited, isolated process per program;
- :mod:`mixer.sandbox.boot`: the trusted first stage inside it (namespaces, private root, seccomp, limits);
- :mod:`mixer.sandbox.verifier`: :class:`Verifier`, a solution and its tests to a verdict with a reason;
- :mod:`mixer.sandbox.policy`: what a solution may not contain, checked before it runs;
- :mod:`mixer.sandbox.instrument`: the tests compiled with the harness's hooks;
- :mod:`mixer.sandbox.harness`: the program that runs a candidate inside the sandbox.

docs/sandbox.md is the threat model.
"""

from mixer.sandbox.run import Limits, RunResult, Sandbox, SandboxError
from mixer.sandbox.verifier import Candidate, Verdict, Verifier

__all__ = ["Candidate", "Limits", "RunResult", "Sandbox", "SandboxError", "Verdict", "Verifier"]
