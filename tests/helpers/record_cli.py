"""``recconsole record`` run as a real process, the way a script runs it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from recconsole_devtools.devstack import StackConfig
from tests.helpers.rooms import TEST_APP


async def record_cli(cfg: StackConfig, *argv: str) -> tuple[int, dict[str, Any], str]:
    """Run ``recconsole record ... --json``: exit code, the JSON printed, stderr."""
    env = {**os.environ, **cfg.env(), "APP_NAME": TEST_APP, "REDIS_URL": ""}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recconsole", "record", *argv, "--json", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, json.loads(out), err.decode()
