"""Error classes that say what the caller should do about them.

Every error a user can cause derives from :class:`MixerError`; the CLI turns it into a message and exit
code 2 ("fix your input and run again"). Anything else escaping is a bug in mixer.
"""

from __future__ import annotations


class MixerError(Exception):
    """A problem with the user's input or environment, detected before or during work; fix and rerun."""


class RecipeError(MixerError):
    """The recipe is invalid. ``problems`` holds one line per problem, each naming the key path and fix."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{source}: {len(problems)} {noun} in the recipe:\n{lines}")


class PlanError(MixerError):
    """The recipe is valid but cannot be carried out (no input files, output owned by another recipe...)."""


class BuildIncomplete(MixerError):
    """The build's work did not cover every input; rerunning the same command resumes it."""


class MissingDependency(MixerError):
    """An optional package is needed for what the recipe asks."""

    def __init__(self, package: str, needed_for: str, extra: str | None = None):
        how = f"pip install 'mixer[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"{needed_for} needs the package '{package}', which is not installed: run `{how}`")


class JobsSubmitted(MixerError):
    """Not a failure: the work was handed to a cluster scheduler; rerun the command once the jobs finish."""
