"""A real keyring backend for tests: keyrings.alt's file keyring under the test's home.

The product talks to it through the ``keyring`` package exactly as it talks to the OS
keyring (Secret Service, Keychain, Credential Locker): chosen by
``PYTHON_KEYRING_BACKEND``, kept in a file (``$XDG_DATA_HOME/python_keyring``) that
outlives the process. The autouse fixture gives every other test the "null" backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keyring
import keyring.core
import pytest

FILE_BACKEND = "keyrings.alt.file.PlaintextKeyring"


@contextmanager
def file_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Switch ``keyring`` to the file backend; yields the file it keeps secrets in."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FILE_BACKEND)
    keyring.core.init_backend()
    backend = keyring.get_keyring()
    assert type(backend).__module__ + "." + type(backend).__name__ == FILE_BACKEND
    try:
        yield Path(backend.file_path)  # type: ignore[attr-defined]
    finally:
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
        keyring.core.init_backend()
