"""One registry pattern for graph fixups and for custom ops on both sides of ONNX.

A registry maps a key to an entry. Entries are registered explicitly (a literal tuple in the
package's ``__init__``), never as an import side effect, and each one carries its own
documentation: the first docstring paragraph says what it handles, the second why it is needed
(which quirk of which tool). Support tables are generated from these docstrings.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Doc:
    """The two documentation lines every registered entry must have."""

    summary: str
    reason: str

    @classmethod
    def of(cls, obj: Callable[..., object] | type) -> Doc:
        """First paragraph of ``obj``'s docstring is the summary, the second the reason."""
        text = inspect.getdoc(obj) or ""
        paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
        if len(paragraphs) < 2:
            name = getattr(obj, "__qualname__", repr(obj))
            raise ValueError(f"{name} needs a docstring: a paragraph on what it handles, then one on why")
        return cls(summary=paragraphs[0], reason=paragraphs[1])


class Registry(Generic[K, V]):
    """Ordered mapping of key -> entry that refuses silent duplicates."""

    def __init__(self, what: str, entries: Iterable[tuple[K, V]] = ()) -> None:
        self.what = what
        self._entries: dict[K, V] = {}
        for key, value in entries:
            self.add(key, value)

    def add(self, key: K, value: V, *, replace: bool = False) -> V:
        if key in self._entries and not replace:
            raise ValueError(f"{self.what} {key!r} is already registered")
        self._entries[key] = value
        return value

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[K]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> Iterator[tuple[K, V]]:
        return iter(self._entries.items())

    def values(self) -> Iterator[V]:
        return iter(self._entries.values())

    def without(self, *keys: K) -> Registry[K, V]:
        """A copy without ``keys``, in the same order (to run all entries but some)."""
        return Registry(self.what, ((k, v) for k, v in self._entries.items() if k not in keys))

    def plus(self, *entries: tuple[K, V]) -> Registry[K, V]:
        """A copy with ``entries`` appended (duplicates refused as by :meth:`add`)."""
        return Registry(self.what, [*self._entries.items(), *entries])
