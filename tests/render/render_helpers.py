"""Render Adaptive Cards and HTML pages in headless Chromium (tests/render/render.mjs)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
THEMES = ("light", "dark")
# A backslash in front of punctuation: a Markdown escape that a renderer failed to consume.
BACKSLASH_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")


def host_config(theme: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HERE / "hostconfigs" / f"teams-{theme}.json").read_text())
    return data


def page_background(theme: str) -> str:
    """The colour behind a card: the host config's default container background."""
    argb = host_config(theme)["containerStyles"]["default"]["backgroundColor"]
    return "#" + argb[-6:]


def render(jobs: list[dict[str, Any]], work: Path) -> dict[str, dict[str, Any]]:
    """Run the renderer over ``jobs``; results by job name. Raises with the tool's output."""
    work.mkdir(parents=True, exist_ok=True)
    jobs_path = work / "jobs.json"
    results_path = work / "results.json"
    jobs_path.write_text(json.dumps({"jobs": jobs}))
    proc = subprocess.run(
        ["node", str(HERE / "render.mjs"), str(jobs_path), str(results_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, f"renderer failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return {r["name"]: r for r in json.loads(results_path.read_text())}


def card_jobs(cards: dict[str, dict[str, Any]], out: Path, width: int = 420) -> list[dict[str, Any]]:
    """One job per card and Teams theme; PNGs land in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for name, card in cards.items():
        for theme in THEMES:
            jobs.append({
                "name": f"{name}-{theme}",
                "out": str(out / f"{name}-{theme}.png"),
                "card": card,
                "hostConfig": host_config(theme),
                "background": page_background(theme),
                "width": width,
            })
    return jobs
