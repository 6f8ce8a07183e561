"""A built wheel is a real package: installed into a fresh venv, it evaluates a file from a
folder far from the checkout (rules and default config are package data), and knows its version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BACKDOOR = {"name": "backdoor", "issuer": "https://evil0x.blob.core.windows.net/oidc", "subject": "attacker",
            "audiences": ["api://AzureADTokenExchange"]}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def test_built_wheel_evaluates_a_file_away_from_the_checkout(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)], tmp_path)
    assert built.returncode == 0, built.stderr
    wheel = next(dist.glob("wifguard-*.whl"))

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    installed = _run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], tmp_path)
    assert installed.returncode == 0, installed.stderr
    # The dependencies (not wifguard) come from the test environment's site-packages, appended
    # after the fresh venv's own: the wheel's wifguard is the one imported.
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp_path).stdout.strip())
    (site / "zz-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")

    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "cred.json").write_text(json.dumps(BACKDOOR), encoding="utf-8")
    where = _run([str(py), "-c", "import wifguard.config as c; print(c.DEFAULT_CONFIG_PATH)"], work)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv) and os.path.isfile(where.stdout.strip())
    schema = _run([str(py), "-c", "from wifguard.package_data import data_file; print(data_file('config.schema.json'))"], work)
    assert Path(schema.stdout.strip()).is_relative_to(venv) and os.path.isfile(schema.stdout.strip())

    exe = venv / "bin" / "wifguard"
    out = _run([str(exe), "evaluate", "cred.json", "--format", "json"], work)
    assert out.returncode == 1, out.stderr  # a critical finding, not an unusable install
    assert "WIF102" in {f["rule_id"] for f in json.loads(out.stdout)["findings"]}

    version = _run([str(exe), "--version"], work)
    assert version.returncode == 0 and version.stdout.strip() == "wifguard 0.1.0"
