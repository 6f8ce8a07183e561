"""Findings out: the JSON summary, Markdown, HTML, SARIF, CSV and JUnit, and which findings
a command reports.
"""
