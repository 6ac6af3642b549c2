"""Rendering: how a structured record (a commit, a pull request) becomes one document's text.

Pure functions over plain data, imported by the readers; no pipeline code, no subprocesses.
"""
