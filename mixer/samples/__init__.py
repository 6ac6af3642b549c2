"""The embedded sample corpus (``mixer sample-corpus``): real text, code, git history and Python problems
found on any machine with Python, for the demo and the tests.

- :mod:`mixer.samples.corpus`: gathers every part into ``data/sample/``;
- :mod:`mixer.samples.doctest_problems` and :mod:`mixer.samples.generated_problems`: the ``verified/``
  part's problems, from the standard library's doctests and a fixed generated set;
- :mod:`mixer.samples.prs_from_git`: pull-request-shaped records derived from a repository's history.
"""
