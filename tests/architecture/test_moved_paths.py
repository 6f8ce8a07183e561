"""The flat layout's import paths still resolve, to the very same module objects (no second copy)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from wifguard import _moved


@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_every_old_path_is_the_new_module(old: str) -> None:
    new = _moved.new_name(old)
    assert new is not None
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")) if old not in sys.modules else _nothing():
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_submodules_of_moved_packages_are_not_loaded_twice() -> None:
    code = ("import warnings; warnings.simplefilter('ignore')\n"
            "from wifguard.inventory.graph import GraphClient as Old\n"
            "from wifguard.sources.inventory.graph import GraphClient as New\n"
            "from wifguard.engine import Engine as E1\n"
            "from wifguard.catalogue.engine import Engine as E2\n"
            "from wifguard.pipeline import Responder as R1\n"
            "from wifguard.pipeline.responder import Responder as R2\n"
            "assert Old is New and E1 is E2 and R1 is R2\n"
            "print('same')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "same"


def test_unknown_names_still_fail() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("wifguard.no_such_module")


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
