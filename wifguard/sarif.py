"""SARIF 2.1.0 output for code scanning (GitHub, Azure DevOps).

Each result points at the offending credential (or role assignment, or identity) in its file,
so code scanning annotates the pull request line that adds the risky trust.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wifguard import __version__
from wifguard.inputs import Located
from wifguard.model import Finding, Severity
from wifguard.rules import Rule

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/wifguard/wifguard"

# GitHub code scanning reads `security-severity` (0-10) to rank security alerts.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}


def level(sev: Severity) -> str:
    if sev >= Severity.HIGH:
        return "error"
    if sev == Severity.MEDIUM:
        return "warning"
    return "note"


def _artifact(path: str) -> dict[str, str]:
    """A location relative to %SRCROOT% (the directory wifguard ran in: the checkout root in CI),
    so the log names no absolute path and is the same from any checkout. A file outside it
    keeps an absolute ``file://`` URI and no base."""
    p = Path(path)
    if path == "<stdin>":
        return {"uri": "stdin"}
    try:
        rel = os.path.relpath(p.resolve(), Path.cwd())
    except ValueError:  # another drive (Windows)
        return {"uri": p.resolve().as_uri()}
    if rel.startswith(".."):
        return {"uri": p.resolve().as_uri()}
    return {"uri": Path(rel).as_posix(), "uriBaseId": "%SRCROOT%"}


def help_uri(rule_id: str) -> str:
    """The rule's row in the README catalogue (section anchor, then a text fragment on the id)."""
    return f"{INFO_URI}#the-rules:~:text={rule_id}"


def _rule_descriptor(rule: Rule, severity: Severity) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.spec.title.replace("-", " ").split() if w.isalnum()) or rule.id,
        "shortDescription": {"text": rule.spec.title},
        # The full description says what to do, not the title again.
        "fullDescription": {"text": " ".join((rule.spec.description or rule.spec.remediation).split())},
        "help": {"text": rule.remediation_template},
        "helpUri": help_uri(rule.id),
        "defaultConfiguration": {"level": level(severity)},
        "properties": {
            "tags": ["security", "workload-identity-federation", rule.spec.category],
            "security-severity": _SECURITY_SEVERITY[severity],
            "precision": "high",
            "problem.severity": "error" if severity >= Severity.HIGH else "warning",
        },
    }


def build_sarif(
    findings: Sequence[tuple[Finding, Located | None]],
    rules: Sequence[Rule],
    severities: dict[str, Severity],
    invocation_errors: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """A SARIF log with one run. ``findings`` pairs each finding with where it sits."""
    index = {r.id: i for i, r in enumerate(rules)}
    results = []
    for f, loc in findings:
        result: dict[str, Any] = {
            "ruleId": f.rule_id,
            "level": level(f.severity),
            "message": {"text": f"{f.message} {f.remediation}".strip()},
            "partialFingerprints": {"wifguardFingerprint/v1": f.fingerprint},
            "properties": {
                "severity": f.severity.label,
                "identity": dict(f.identity),
                **({"credential": dict(f.credential)} if f.credential else {}),
                **({"roleAssignment": dict(f.role_assignment)} if f.role_assignment else {}),
            },
        }
        if f.rule_id in index:
            result["ruleIndex"] = index[f.rule_id]
        if loc is not None:
            result["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(loc.path),
                        "region": {"startLine": loc.line, "startColumn": loc.column},
                    }
                }
            ]
        results.append(result)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "wifguard",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFO_URI,
                "rules": [_rule_descriptor(r, severities.get(r.id, r.spec.severity)) for r in rules],
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"description": {
            "text": "The directory wifguard ran in (the repository root in CI)."}}},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if invocation_errors:
        run["invocations"] = [
            {
                "executionSuccessful": False,
                "toolExecutionNotifications": [
                    {
                        "level": "error",
                        "message": {"text": problem},
                        "locations": [{"physicalLocation": {"artifactLocation": _artifact(path)}}],
                    }
                    for path, problem in invocation_errors
                ],
            }
        ]
    else:
        run["invocations"] = [{"executionSuccessful": True}]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
