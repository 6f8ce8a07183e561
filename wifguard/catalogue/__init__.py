"""The rule catalogue: rule files (``rules/``, package data) and their loader, the fact
providers rules read, the engine that evaluates them, and the catalogue lint.
"""
