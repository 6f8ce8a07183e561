"""The hash-locked dependency files agree with the pinned top-level lists.

``requirements.txt`` (what Azure Functions installs; the product's top-level pins) and
``requirements-dev.txt`` are the sources; ``requirements.lock`` and ``requirements-dev.lock``
are their full closures with hashes, written by ``make lock`` (pip-compile --generate-hashes) and
installed by ``make setup`` with ``--require-hashes``. Another branch that adds or bumps a
dependency without re-locking fails here, with the command that fixes it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIX = "run `make lock` and commit requirements.lock and requirements-dev.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\#]+)")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path, seen: set[Path] | None = None) -> dict[str, str]:
    """name -> version of a requirements file, following `-r` includes."""
    seen = seen or set()
    seen.add(path)
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            inc = (path.parent / line.split(None, 1)[1]).resolve()
            if inc not in seen:
                out.update(pins(inc, seen))
        elif m := _PIN.match(line):
            out[norm(m.group(1))] = m.group(2)
        elif line and not line.startswith(("#", "-")):
            raise AssertionError(f"{path.name}: {line!r} is not pinned with == ({FIX} after pinning it)")
    return out


def locked(path: Path) -> dict[str, tuple[str, int, str]]:
    """name -> (version, number of hashes, the `# via` text) of a pip-compile lock file."""
    out: dict[str, tuple[str, int, str]] = {}
    current: str | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if m := _PIN.match(raw):
            current = norm(m.group(1))
            out[current] = (m.group(2), 0, "")
        elif current and line.startswith("--hash=sha256:"):
            v, n, via = out[current]
            out[current] = (v, n + 1, via)
        elif current and line.startswith("#"):
            v, n, via = out[current]
            out[current] = (v, n, via + " " + line.lstrip("# "))
    return out


@pytest.mark.parametrize(("source", "lock"), [("requirements.txt", "requirements.lock"),
                                              ("requirements-dev.txt", "requirements-dev.lock")])
def test_lock_matches_its_requirements(source: str, lock: str) -> None:
    assert (ROOT / lock).exists(), f"{lock} is missing: {FIX}"
    want = pins(ROOT / source)
    have = locked(ROOT / lock)
    missing = sorted(n for n in want if n not in have)
    differ = sorted(f"{n} {want[n]} (locked {have[n][0]})" for n in want if n in have and have[n][0] != want[n])
    assert not missing and not differ, f"{source} and {lock} disagree: missing {missing}, versions {differ}: {FIX}"


def test_runtime_lock_has_no_leftover_top_level_packages() -> None:
    """A package removed from requirements.txt must leave the lock too (pip-compile marks top-level
    ones `via -r requirements.txt`)."""
    want = pins(ROOT / "requirements.txt")
    top = {n for n, (_, _, via) in locked(ROOT / "requirements.lock").items() if "-r requirements.txt" in via}
    assert top == set(want), f"requirements.lock lists {sorted(top - set(want))} as top-level: {FIX}"


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_locked_package_is_exact_and_hashed(lock: str) -> None:
    entries = locked(ROOT / lock)
    assert len(entries) > 20
    unhashed = sorted(n for n, (_, hashes, _) in entries.items() if hashes == 0)
    assert not unhashed, f"{lock}: no hash for {unhashed}: {FIX}"


def test_dev_lock_installs_the_runtime_lock_unchanged() -> None:
    runtime = {n: v for n, (v, _, _) in locked(ROOT / "requirements.lock").items()}
    dev = {n: v for n, (v, _, _) in locked(ROOT / "requirements-dev.lock").items()}
    differ = sorted(f"{n} {v} (dev {dev.get(n)})" for n, v in runtime.items() if dev.get(n) != v)
    assert not differ, f"requirements-dev.lock drifts from requirements.lock: {differ}: {FIX}"


def test_setup_installs_with_require_hashes_and_lock_target_exists() -> None:
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements-dev.lock" in make
    assert re.search(r"^lock:", make, re.M)
