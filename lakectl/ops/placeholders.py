"""``${...}`` placeholders in files lakectl sends somewhere (SQL jobs, Connect connector configs)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping

from lakectl.errors import UsageError

# ${iceberg.jdbc_url}: a dotted key; ${rows_per_second:-1}: with a default
PLACEHOLDER = re.compile(r"\$\{([a-z][a-z0-9_.-]*)(?::-([^}]*))?\}")


def fill(text: str, values: Mapping[str, str], origin: str) -> str:
    """``text`` with every placeholder replaced; an unknown one without a default is a UsageError."""

    def one(match: re.Match) -> str:
        key, default = match.group(1), match.group(2)
        if key in values:
            return values[key]
        if default is not None:
            return default
        raise UsageError(f"{origin}: unknown placeholder ${{{key}}} (known: {', '.join(sorted(values))})")

    return PLACEHOLDER.sub(one, text)


class Lazy(Mapping[str, str]):
    """Values computed only when a placeholder names them (a catalog password is read only if used)."""

    def __init__(self, getters: Mapping[str, Callable[[], str]]) -> None:
        self._getters = dict(getters)
        self._cache: dict[str, str] = {}

    def __getitem__(self, key: str) -> str:
        if key not in self._cache:
            self._cache[key] = str(self._getters[key]())
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._getters)

    def __len__(self) -> int:
        return len(self._getters)
