"""Quality steps that mixer adds to datatrove's: each module is one kind of datatrove step.

- :mod:`mixer.filters.text`: datatrove's text filters (Gopher, C4, FineWeb, language ID), offline and fast.
- :mod:`mixer.filters.code`: the StarCoder / The Stack v2 code heuristics (``CodeQualityFilter``).
- :mod:`mixer.filters.pii`: e-mail, IP address and secret redaction with typed placeholders (``PIIRedactor``).

Recipes name these steps through :mod:`mixer.filters.steps`; nothing is imported here, so that importing one
step does not load the dependencies of the others.
"""
