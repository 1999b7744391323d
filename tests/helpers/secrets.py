"""An in-memory SecretStore: tests keep away from the OS keyring."""

from __future__ import annotations


class DictSecrets:
    """An in-memory SecretStore for tests (the OS keyring is kept out of tests)."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value
