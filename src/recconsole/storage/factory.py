"""The recordings store the settings ask for.

Each backend's module (and its SDK: botocore, azure-storage-blob) is imported only when
the settings choose it, which keeps them off the console's start.
"""

from __future__ import annotations

from pathlib import Path

from recconsole.core.errors import ConsoleError
from recconsole.settings import Settings, user_data_dir
from recconsole.storage.base import ObjectStore, StoreError
from recconsole.storage.local import LocalStore


def store_from_settings(settings: Settings) -> ObjectStore:
    """RECORDINGS_STORAGE=s3 (default), local (RECORDINGS_DIR) or azure (AZURE_*)."""
    if settings.recordings_storage == "s3":
        from recconsole.storage.s3 import S3Store

        return S3Store.from_settings(settings)
    if settings.recordings_storage == "local":
        root = Path(settings.recordings_dir) if settings.recordings_dir else (
            user_data_dir() / "recordings")
        return LocalStore(root)
    from recconsole.storage.azure import AzureStore

    try:
        return AzureStore.from_settings(settings)
    except StoreError as err:  # e.g. AZURE_ACCOUNT_NAME / AZURE_ACCOUNT_KEY missing or malformed
        raise ConsoleError(str(err)) from err
