"""The command line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from recconsole import __version__

pytestmark = pytest.mark.unit


def test_version_prints_the_package_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "recconsole", "--version"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert out.stdout.strip() == f"recconsole {__version__}"
    assert __version__ != "0.0.0"


def test_bad_setting_exits_with_a_message_not_a_traceback() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "recconsole", "--livekit-url", "nonsense"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert out.returncode == 2
    assert "LIVEKIT_URL must be a URL" in out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_setting_on_the_command_line_is_refused() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "recconsole", "--set", "NOPE=1"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert out.returncode == 2
    assert "known setting name" in out.stderr


def test_self_test_opens_the_window_loads_everything_and_exits_0() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "recconsole", "--self-test"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[:2] == ["window shown", "console shown"]
    assert "self-test ok" in lines[-1]
    assert "LiveKit FFI" in lines[-1]


def test_what_the_first_screen_needs_loads_no_sdk_no_client_and_no_asyncio_bridge() -> None:
    """The window shows before the heavy parts load: the command line (its whole parser),
    the settings module and the first screen import none of them."""
    heavy = ("livekit", "aiohttp", "boto3", "botocore", "azure", "av", "numpy", "qasync",
             "keyring", "recconsole.ui.app", "recconsole.ui.main_window")
    code = ("import sys; from recconsole import cli; cli.build_parser();"
            " from recconsole.ui import first_screen;"
            f" print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}"
            f" or m in {heavy!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"
