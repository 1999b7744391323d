"""The wheel is the product: built from the source tree, installed into a fresh virtualenv
with nothing but the locked dependencies, it opens its window (styled, from the resources
it carries), answers webhooks as ``recconsole listen`` and holds no dev tools.

The wheel is built from a copy of the sources, so nothing a developer left in ``build/``
can slip into it; pip may take the dependencies from its local cache.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from livekit import api
from PySide6.QtGui import QColor, QImage

import recconsole
from recconsole_devtools.devstack import StackConfig
from tests.helpers.webhooks import egress_event, post, sign

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"
RESOURCES = {"style.qss", "recconsole.svg", "recconsole.desktop"}
# Taken before the tests point HOME elsewhere: installs reuse what pip already downloaded.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    @property
    def recconsole(self) -> Path:
        return self.venv / "bin" / "recconsole"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 900) -> str:
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, (
        f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel built from a copy of the sources, installed into a new virtualenv."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pip_env = {**os.environ, "PIP_CACHE_DIR": PIP_CACHE, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", source,
         cwd=work, env=pip_env)
    [wheel] = (work / "dist").glob("recconsole-*.whl")
    venv.EnvBuilder(with_pip=True).create(work / "venv")
    _run(work / "venv" / "bin" / "python", "-m", "pip", "install", "-q", "-c", LOCK, wheel,
         cwd=work, env=pip_env)
    return Installed(wheel, work / "venv")


def _site_package(installed: Installed) -> Path:
    out = _run(installed.python, "-c", "import recconsole; print(recconsole.__file__)",
               cwd=installed.venv)
    return Path(out.strip()).parent


def _env(**extra: str) -> dict[str, str]:
    """This test's environment (its own HOME), Qt offscreen, nothing of the checkout's."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "QT_QPA_PLATFORM": "offscreen", **extra}


def test_the_wheel_carries_the_resources_and_no_dev_tools(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert {f"recconsole/resources/{name}" for name in RESOURCES} <= set(names)
    assert "recconsole/py.typed" in names
    assert not [n for n in names if n.startswith(("recconsole/devtools", "recconsole_devtools"))]


def test_the_installed_package_is_the_wheel_alone(installed: Installed) -> None:
    package = _site_package(installed)
    assert package.is_relative_to(installed.venv)
    assert {p.name for p in (package / "resources").iterdir()} >= RESOURCES
    assert not (package / "devtools").exists()
    _run(installed.python, "-m", "pip", "check", cwd=installed.venv)
    missing = subprocess.run([installed.python, "-c", "import recconsole_devtools"],
                             cwd=installed.venv, capture_output=True, check=False)
    assert missing.returncode != 0


def test_self_test_from_the_installed_wheel_shows_a_styled_window(
    installed: Installed, tmp_path: Path,
) -> None:
    shot = tmp_path / "window.png"
    out = _run(installed.recconsole, "--env-file", tmp_path / "none", "--self-test",
               "--screenshot", shot, cwd=tmp_path, env=_env(), timeout=120)
    assert "self-test ok" in out.splitlines()[-1]
    assert "stylesheet and icon loaded" in out
    image = QImage(str(shot))
    assert not image.isNull()
    assert image.width() >= 400
    assert image.height() >= 300
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7)
               for y in range(0, image.height(), 7)}
    assert len(colours) > 20, "the window is blank"
    # Both colours come from the stylesheet only: the window's and the status bar's.
    assert QColor(image.pixel(4, 4)).name() == "#f6f7f9"
    assert QColor(image.pixel(4, image.height() - 4)).name() == "#eceff3"


def test_the_installed_command_adds_itself_to_the_desktop_menu(
    installed: Installed, tmp_path: Path,
) -> None:
    data = tmp_path / "share"
    out = _run(installed.recconsole, "--install-desktop-entry", cwd=tmp_path,
               env=_env(XDG_DATA_HOME=str(data)))
    entry = data / "applications" / "recconsole.desktop"
    icon = data / "icons" / "hicolor" / "scalable" / "apps" / "recconsole.svg"
    assert out.split() == [str(entry), str(icon)]
    assert f"Exec={installed.recconsole}" in entry.read_text().splitlines()
    assert icon.read_bytes().startswith(b"<svg")
    if shutil.which("desktop-file-validate"):
        _run("desktop-file-validate", entry, cwd=tmp_path)
    version = _run(installed.recconsole, "--version", cwd=tmp_path).strip()
    assert version == f"recconsole {recconsole.__version__}"


@pytest.mark.asyncio
async def test_the_installed_listener_answers_webhooks(
    installed: Installed, livekit_server: StackConfig, unused_tcp_port: int, tmp_path: Path,
) -> None:
    env = _env(**{**livekit_server.env(), "REDIS_URL": ""})
    command = [str(installed.recconsole), "--env-file", str(tmp_path / "none"), "listen",
               "--port", str(unused_tcp_port), "--data-dir", str(tmp_path / "data")]
    proc = await asyncio.create_subprocess_exec(*command, env=env, cwd=tmp_path,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stderr is not None
        async with asyncio.timeout(60):
            while b"recconsole listen: http" not in (line := await proc.stderr.readline()):
                assert line, f"the listener ended (exit {await proc.wait()})"
        url = f"http://127.0.0.1:{unused_tcp_port}/livekit/webhook"
        body = egress_event("egress_updated", "wheel-check", "EG_wheel",
                            api.EgressStatus.EGRESS_ACTIVE)
        assert (await post(url, body, "Bearer not-a-token"))[0] == 401
        assert (await post(url, body, sign(body)))[0] == 200
    finally:
        proc.terminate()
        assert await proc.wait() == 0
    status = await asyncio.create_subprocess_exec(*command, "--status", env=env, cwd=tmp_path,
                                                  stdout=asyncio.subprocess.PIPE)
    out, _ = await status.communicate()
    assert await status.wait() == 0
    assert "dead 0" in out.decode()
