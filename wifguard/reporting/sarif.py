"""SARIF 2.1.0 output for code scanning (GitHub, Azure DevOps).

Each result points at the offending credential (or role assignment, or identity) in its file,
so code scanning annotates the pull request line that adds the risky trust.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wifguard import __version__
from wifguard.catalogue.lint import attack_techniques, attack_url
from wifguard.catalogue.rules import Rule
from wifguard.domain.model import Finding, Severity
from wifguard.offline.inputs import Located

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


_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def _plain(markdown: str) -> str:
    return " ".join(_LINK.sub(r"\1", markdown).replace("`", "").split())


def _markdown(markdown: str) -> str:
    # README-relative anchors (#outside-checks) point into the README from a SARIF viewer.
    return " ".join(_LINK.sub(lambda m: f"[{m[1]}]({INFO_URI}{m[2]})" if m[2].startswith("#") else m[0],
                              markdown).split())


def _full_description(rule: Rule) -> dict[str, str]:
    """What the rule detects: its "fires when" clause (the README row), else description or remediation."""
    s = rule.spec
    if s.fires_when.strip():
        return {"text": f"Fires when {_plain(s.fires_when)}.", "markdown": f"Fires when {_markdown(s.fires_when)}."}
    # The full description says what to do, not the title again.
    return {"text": " ".join((s.description or s.remediation).split())}


def _help(rule: Rule) -> dict[str, str]:
    """How to fix and how to triage, with false positives, ATT&CK techniques and references."""
    s = rule.spec
    triage = " ".join(s.triage.split())
    text = rule.remediation_template + (f" Triage: {triage}" if triage else "")
    parts = [f"**Remediation.** {rule.remediation_template}"]
    if triage:
        parts.append(f"**Triage.** {triage}")
    if s.false_positives:
        parts.append("**False positives.**\n" + "\n".join(f"- {' '.join(fp.split())}" for fp in s.false_positives))
    if s.attack:
        cat = attack_techniques()
        parts.append("**MITRE ATT&CK.** " + ", ".join(
            f"[{t}{' ' + cat.name(t) if cat.name(t) else ''}]({attack_url(t)})" for t in s.attack))
    if s.references:
        parts.append("**References.**\n" + "\n".join(f"- <{u}>" for u in s.references))
    return {"text": text, "markdown": "\n\n".join(parts)}


def _rule_descriptor(rule: Rule, severity: Severity) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.spec.title.replace("-", " ").split() if w.isalnum()) or rule.id,
        "shortDescription": {"text": rule.spec.title},
        "fullDescription": _full_description(rule),
        "help": _help(rule),
        "helpUri": help_uri(rule.id),
        "defaultConfiguration": {"level": level(severity)},
        "properties": {
            "tags": ["security", "workload-identity-federation", rule.spec.category,
                     *(f"external/mitre-attack/{t}" for t in rule.spec.attack)],
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
