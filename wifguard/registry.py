"""A name → plugin registry, used as a decorator (Cloud Custodian's ``PluginRegistry``).

``@identity_sources.register("application")`` makes a class or function known under a name;
``get(name)`` finds it, and an unknown name fails listing the valid ones, so a typo in a config
or a parked row's source never turns into "nothing to do".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from wifguard.errors import ConfigError

T = TypeVar("T")


class UnknownName(ConfigError, LookupError):
    """No plugin is registered under a name; the message lists the registered ones."""


class Registry(Generic[T]):
    def __init__(self, what: str) -> None:
        self.what = what  # e.g. "identity source", for messages
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        prev = self._items.get(name)
        if prev is not None and prev is not item:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        def deco(item: T) -> T:
            return self.add(name, item)
        return deco

    def remove(self, name: str) -> None:
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownName(f"unknown {self.what} {name!r}; valid: {', '.join(self.names()) or '(none)'}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
