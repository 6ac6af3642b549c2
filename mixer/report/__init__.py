"""What a build reports: console tables (:mod:`mixer.report.console`) and the HTML page (:mod:`mixer.report.html`)."""

from mixer.report.console import format_table, summary_table

__all__ = ["format_table", "summary_table"]
