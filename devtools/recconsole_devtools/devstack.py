"""The local dev stack: LiveKit server, MinIO, Azurite and Redis on loopback.

Each service is built or installed from its package registry the first time
(LiveKit, MinIO and MediaMTX from their Go modules, Azurite from npm, Redis from Debian)
and cached under ``.devstack/``, so later runs start in seconds. A *profile*
(``dev`` for the console, ``test`` for the test suite) gives each use its own
ports and state folder so both can run side by side.

    python -m recconsole_devtools.devstack up|down|status|env|build
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

LIVEKIT_MODULE: Final = "github.com/livekit/livekit-server"
LIVEKIT_VERSION: Final = "v1.11.0"
MINIO_MODULE: Final = "github.com/minio/minio"
MINIO_VERSION: Final = "v0.0.0-20260212201848-7aac2a2c5b7c"
AZURITE_VERSION: Final = "3.35.0"
# The newest egress release the Go module proxy serves (v1.9.0 and later: 403). Its own
# checksum is not in the checksum database; its dependencies are checked against its
# go.sum (the build runs with -mod=readonly and go mod verify).
EGRESS_MODULE: Final = "github.com/livekit/egress"
EGRESS_VERSION: Final = "v1.8.6"
# The binary's folder names the changes made to the module too, so a changed build never
# takes the place of a binary an older checkout runs.
EGRESS_BUILD: Final = f"egress-{EGRESS_VERSION}-aacparse"
EGRESS_NOSUMDB: Final = "github.com/livekit/egress"
PNPM: Final = "pnpm@9.15.9"  # builds egress's web template from its lockfile
# The template's lockfile pins @livekit/egress-sdk 0.2.0, which the npm registry no
# longer serves (404); 0.2.1 is the same API within the template's "^0.2.0".
EGRESS_SDK_LOCK: Final = (
    ("@livekit/egress-sdk@0.2.0", "@livekit/egress-sdk@0.2.1"),
    ("version: 0.2.0(livekit-client@2.4.2)", "version: 0.2.1(livekit-client@2.4.2)"),
    ("sha512-UVWAIEf8PSWytBorfOw4nbVl/0HoOuVOPr/XS5kQhcrM4TaeG6Sl0KXIKQGvU4xbaBW0WStyvGOBFSzM94OD7g==",
     "sha512-pmg5K2zXv3YDj/dxLG1OLvzbTKHEp0hmPbLa9a2tsy08jFIg6tRp+bwRaFH0HM1XLMDn2Ng0c/fY3FW87IYkwQ=="),
)
# MediaMTX, the live-stream server that receives egress's RTMP outputs. Its module lacks
# two files its `go generate` makes: internal/core/VERSION (the release tag, from git) and
# internal/servers/hls/hls.min.js (hls.js, downloaded). The tag is written as is; hls.js
# comes from the npm registry at the version its hlsjsdownloader names.
MEDIAMTX_MODULE: Final = "github.com/bluenviron/mediamtx"
MEDIAMTX_VERSION: Final = "v1.12.3"
HLSJS_VERSION: Final = "1.6.2"
# Egress writes its temporary files here, whatever it is told.
EGRESS_TMP: Final = Path("/home/egress/tmp")

API_KEY: Final = "devkey"
API_SECRET: Final = "secret"
MINIO_USER: Final = "minioadmin"
MINIO_PASSWORD: Final = "minioadmin"
S3_BUCKET: Final = "openvidu"
# Azurite's well-known development account (public, documented by Microsoft).
AZURE_ACCOUNT: Final = "devstoreaccount1"
AZURE_KEY: Final = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
AZURE_CONTAINER: Final = "openvidu-appdata"

DEFAULT_HOME: Final = Path(__file__).resolve().parents[2] / ".devstack"  # the checkout


class StackError(RuntimeError):
    """A service could not be built or started; the message is one line saying which and why."""


@dataclass(frozen=True)
class Ports:
    """Loopback ports of one stack profile."""

    livekit: int
    livekit_rtc_tcp: int  # reserved: LiveKit's RTC TCP listener is off (see _livekit_command)
    livekit_rtc_udp: int
    minio: int  # and its console on the next port
    azurite: int
    redis: int
    webhook: int  # the suite also listens on the next port
    pulse: int
    egress: int  # the egress service's web template server
    mediamtx: int  # RTMP; its HTTP API on the next port


# Stacks of one profile run side by side at offsets that are multiples of 10: no two
# ports of a profile (derived ones included, see StackConfig.all_ports) may differ by a
# multiple of 10 below 1000. Their last digits keep them apart: LiveKit, MinIO, Azurite
# and the webhook end in 0 (RTC, MinIO's console and the suite's second webhook listener
# in 1 and 2), pulse in 3, Redis in 9, so the egress template ends in 5 (LiveKit's port
# + 105; at + 100 a stack 100 ports up put its LiveKit on it). MinIO and Azurite are
# 1000 apart, hence the limit. MediaMTX keeps RTMP's own port, 1935 (more than 1000 from
# every other port), and its API is on 1936.
PROFILES: Final[dict[str, Ports]] = {
    "dev": Ports(7880, 7881, 7882, 9000, 10000, 6379, 6080, 4713, 7985, 1935),
    "test": Ports(17880, 17881, 17882, 19000, 20000, 16379, 16080, 14713, 17985, 11935),
}
PULSE_SINK: Final = "recconsole_null"  # the speaker
PULSE_MIC_FEED: Final = "recconsole_mic_in"  # what is played here, the microphone hears


@dataclass(frozen=True)
class StackConfig:
    """Where a stack lives and which ports it uses."""

    home: Path
    profile: str
    ports: Ports
    offset: int = 0
    livekit_redis: bool = False  # LiveKit keeps its state (and egress jobs) in Redis
    extra_webhook_ports: tuple[int, ...] = ()  # more listeners LiveKit posts to

    @classmethod
    def for_profile(
        cls,
        profile: str,
        home: Path = DEFAULT_HOME,
        webhook_port: int | None = None,
        offset: int = 0,
        livekit_redis: bool = False,
        extra_webhook_ports: tuple[int, ...] = (),
    ) -> StackConfig:
        """A profile's ports, all shifted by ``offset`` so several stacks can run at once."""
        ports = Ports(**{k: v + offset for k, v in PROFILES[profile].__dict__.items()})
        if webhook_port is not None:
            ports = Ports(**{**ports.__dict__, "webhook": webhook_port})
        return cls(home=home, profile=profile, ports=ports, offset=offset,
                   livekit_redis=livekit_redis, extra_webhook_ports=extra_webhook_ports)

    @property
    def state(self) -> Path:
        return self.home / (f"{self.profile}+{self.offset}" if self.offset else self.profile)

    @property
    def bin_dir(self) -> Path:
        return self.home / "bin"

    @property
    def livekit_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.livekit}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.minio}"

    @property
    def azure_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.azurite}/{AZURE_ACCOUNT}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports.redis}"

    @property
    def minio_console_port(self) -> int:
        return self.ports.minio + 1

    @property
    def mediamtx_api_port(self) -> int:
        return self.ports.mediamtx + 1

    @property
    def rtmp_url(self) -> str:
        """Where live streams are published and played: add ``/path`` (e.g. ``/live/demo``)."""
        return f"rtmp://127.0.0.1:{self.ports.mediamtx}"

    @property
    def mediamtx_api_url(self) -> str:
        return f"http://127.0.0.1:{self.mediamtx_api_port}"

    def all_ports(self) -> dict[str, int]:
        """Every port this stack claims, by name: its Ports, derived ones, extra webhooks."""
        extra = {f"webhook_extra_{i}": port for i, port in enumerate(self.extra_webhook_ports, 1)}
        return {**self.ports.__dict__, "minio_console": self.minio_console_port,
                "mediamtx_api": self.mediamtx_api_port, **extra}

    @property
    def pulse_server(self) -> str:
        """PULSE_SERVER for programs that should play into this stack's silent speaker."""
        return f"tcp:127.0.0.1:{self.ports.pulse}"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.webhook}/livekit/webhook"

    def env(self) -> dict[str, str]:
        """The settings (SPEC names) that point the console at this stack."""
        return {
            "LIVEKIT_URL": self.livekit_url,
            "LIVEKIT_API_KEY": API_KEY,
            "LIVEKIT_API_SECRET": API_SECRET,
            "S3_ENDPOINT": self.s3_endpoint,
            "S3_ACCESS_KEY": MINIO_USER,
            "S3_SECRET_KEY": MINIO_PASSWORD,
            "AWS_REGION": "us-east-1",
            "S3_BUCKET": S3_BUCKET,
            "AZURE_ACCOUNT_NAME": AZURE_ACCOUNT,
            "AZURE_ACCOUNT_KEY": AZURE_KEY,
            "AZURE_CONTAINER_NAME": AZURE_CONTAINER,
            "AZURE_ENDPOINT": self.azure_endpoint,
            "REDIS_URL": self.redis_url,
            "SERVER_PORT": str(self.ports.webhook),
        }


def _log(message: str) -> None:
    print(f"devstack: {message}", file=sys.stderr, flush=True)


def _run(cmd: Sequence[str], what: str, cwd: Path | None = None,
         extra_env: dict[str, str] | None = None) -> str:
    """Run a build step; on failure raise a one-line StackError quoting its last error line."""
    env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": os.environ.get("CGO_ENABLED", "0"),
           **(extra_env or {})}
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise StackError(f"{what}: {cmd[0]} is not installed") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if "downloading" not in ln]
        raise StackError(f"{what}: {(errors or lines or ['failed'])[-1].strip()}")
    return proc.stdout


def _module_copy(cfg: StackConfig, module: str, version: str, name: str, what: str,
                 env: dict[str, str] | None = None) -> Path:
    """A writable copy of ``module@version`` from the Go module proxy, to build in.

    A copy, because the module cache is read-only and `go install` refuses modules
    whose go.mod has replace directives (LiveKit's has).
    """
    info = json.loads(_run(["go", "mod", "download", "-json", f"{module}@{version}"], what,
                           extra_env=env))
    if "Error" in info:
        raise StackError(f"{what}: {info['Error'].splitlines()[0]}")
    src = cfg.home / "build" / f"{name}-{version}"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(info["Dir"], src)
    for path in [src, *src.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    return src


def build_go_binary(cfg: StackConfig, module: str, version: str, package: str, name: str) -> Path:
    """Build ``package`` of ``module@version`` into the binary cache (once)."""
    target = cfg.bin_dir / f"{name}-{version}"
    if target.exists():
        return target
    _log(f"building {name} {version} from {module} (first run only, takes a few minutes)")
    what = f"{name}: cannot build {module}@{version}"
    src = _module_copy(cfg, module, version, name, what)
    cfg.bin_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    _run(["go", "build", "-trimpath", "-o", str(partial), package], what, cwd=src)
    partial.rename(target)
    shutil.rmtree(src, ignore_errors=True)
    return target


EGRESS_ADD_ENCODER: Final = "\t\treturn b.bin.AddElement(faac)\n"
EGRESS_ADD_ENCODER_PARSED: Final = (
    '\t\taacParse, err := gst.NewElement("aacparse")\n'
    "\t\tif err != nil {\n\t\t\treturn errors.ErrGstPipelineError(err)\n\t\t}\n"
    "\t\treturn b.bin.AddElements(faac, aacParse)\n")


def build_egress(cfg: StackConfig) -> Path:
    """Build the egress service from its Go module (cgo, Debian's GStreamer) once.

    Two changes to the module's copy: its web template (``template-default``) is
    built with pnpm from the npm registry and embedded, as its Dockerfile does; and
    the AAC encoder element ``faac``, which Debian does not ship, becomes
    ``voaacenc`` (gstreamer1.0-plugins-bad; same input, same bitrate property), followed
    by ``aacparse``: unlike faac, voaacenc does not mark its output framed, which MP4
    accepts but the MPEG-TS muxer of HLS segments and live streams refuses. The
    template's lockfile moves to an npm package version the registry still serves.
    The binary is named ``egress``: the service runs each recording as
    ``egress run-handler``, found on PATH.
    """
    folder = cfg.bin_dir / EGRESS_BUILD
    binary = folder / "egress"
    if binary.exists():
        return binary
    what = f"egress: cannot build {EGRESS_MODULE}@{EGRESS_VERSION}"
    if shutil.which("pkg-config") is None or subprocess.run(
            ["pkg-config", "--exists", "gstreamer-1.0", "gstreamer-app-1.0"],
            check=False).returncode != 0:
        raise StackError(f"{what}: GStreamer development files are missing (Debian packages"
                         " libgstreamer1.0-dev and friends; scripts/setup installs them)")
    _log(f"building egress {EGRESS_VERSION} (first run only, takes several minutes)")
    env = {"GONOSUMDB": EGRESS_NOSUMDB, "CGO_ENABLED": "1", "GOFLAGS": "-mod=readonly"}
    src = _module_copy(cfg, EGRESS_MODULE, EGRESS_VERSION, "egress", what, env)
    audio = src / "pkg" / "pipeline" / "builder" / "audio.go"
    code = audio.read_text()
    if 'gst.NewElement("faac")' not in code:
        raise StackError(f"{what}: {audio.name} no longer creates a faac element; check the AAC"
                         " encoder change")
    if EGRESS_ADD_ENCODER not in code:
        raise StackError(f"{what}: {audio.name} no longer adds the faac element as expected")
    audio.write_text(code.replace('gst.NewElement("faac")', 'gst.NewElement("voaacenc")')
                     .replace(EGRESS_ADD_ENCODER, EGRESS_ADD_ENCODER_PARSED))
    template = src / "template-default"
    lock = template / "pnpm-lock.yaml"
    text = lock.read_text()
    for old, new in EGRESS_SDK_LOCK:
        if old not in text:
            raise StackError(f"{what}: the template's lockfile no longer pins {old!r}")
        text = text.replace(old, new)
    lock.write_text(text)
    _run(["npx", "--yes", PNPM, "install", "--frozen-lockfile"], f"{what}: template", template)
    _run(["npx", "--yes", PNPM, "build"], f"{what}: template", template)
    embedded = src / "cmd" / "server" / "templates"
    shutil.rmtree(embedded, ignore_errors=True)
    shutil.copytree(template / "build", embedded, ignore=shutil.ignore_patterns("*.map"))
    _run(["go", "mod", "verify"], what, src, extra_env=env)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "egress.partial"
    _run(["go", "build", "-trimpath", "-o", str(partial), "./cmd/server"], what, src,
         extra_env=env)
    partial.rename(binary)
    shutil.rmtree(src, ignore_errors=True)
    return binary


def _npm_file(package: str, version: str, member: str, what: str) -> bytes:
    """One file of an npm package, fetched with ``npm pack`` (which checks its integrity)."""
    with tempfile.TemporaryDirectory(prefix="devstack-npm-") as tmp:
        packed = json.loads(_run(["npm", "pack", "--json", "--pack-destination", tmp,
                                  f"{package}@{version}"], what, cwd=Path(tmp)))
        tarball = Path(tmp) / packed[0]["filename"]
        with tarfile.open(tarball) as tar:
            try:
                found = tar.extractfile(f"package/{member}")
            except KeyError:
                found = None
            if found is None:
                raise StackError(f"{what}: {package}@{version} has no {member}")
            with found:
                return found.read()


def build_mediamtx(cfg: StackConfig) -> Path:
    """Build MediaMTX from its Go module once (pure Go, ``go build``).

    Its ``go generate`` step downloads hls.js from GitHub and asks git for the version,
    neither of which a module copy can do; the two files it would write are written
    here instead: ``internal/core/VERSION`` holds the release tag, and
    ``internal/servers/hls/hls.min.js`` is ``dist/hls.min.js`` of the npm package at
    the version the module's ``hlsjsdownloader/VERSION`` names (the same release).
    """
    target = cfg.bin_dir / f"mediamtx-{MEDIAMTX_VERSION}"
    if target.exists():
        return target
    what = f"mediamtx: cannot build {MEDIAMTX_MODULE}@{MEDIAMTX_VERSION}"
    _log(f"building mediamtx {MEDIAMTX_VERSION} from {MEDIAMTX_MODULE} (first run only,"
         " a few minutes)")
    env = {"GOFLAGS": "-mod=readonly"}
    src = _module_copy(cfg, MEDIAMTX_MODULE, MEDIAMTX_VERSION, "mediamtx", what, env)
    hls = src / "internal" / "servers" / "hls"
    wanted = (hls / "hlsjsdownloader" / "VERSION").read_text().strip()
    if wanted != f"v{HLSJS_VERSION}":
        raise StackError(f"{what}: it wants hls.js {wanted}, not v{HLSJS_VERSION}")
    (hls / "hls.min.js").write_bytes(
        _npm_file("hls.js", HLSJS_VERSION, "dist/hls.min.js", f"{what}: hls.js"))
    (src / "internal" / "core" / "VERSION").write_text(MEDIAMTX_VERSION)
    _run(["go", "mod", "verify"], what, src, extra_env=env)
    cfg.bin_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    _run(["go", "build", "-trimpath", "-o", str(partial), "."], what, src, extra_env=env)
    partial.rename(target)
    shutil.rmtree(src, ignore_errors=True)
    return target


def install_azurite(cfg: StackConfig) -> Path:
    """Install Azurite from the npm registry into the cache (once)."""
    prefix = cfg.home / f"azurite-{AZURITE_VERSION}"
    binary = prefix / "node_modules" / ".bin" / "azurite-blob"
    if binary.exists():
        return binary
    _log(f"installing azurite {AZURITE_VERSION} from npm (first run only)")
    prefix.mkdir(parents=True, exist_ok=True)
    _run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix),
         f"azurite@{AZURITE_VERSION}"],
        f"azurite: cannot install azurite@{AZURITE_VERSION} from npm",
    )
    return binary


def find_debian_binary(name: str, package: str) -> Path:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                   else None)
    if not found:
        raise StackError(f"{name}: not installed (Debian package {package};"
                         " scripts/setup installs it)")
    return Path(found)


# --- health probes -----------------------------------------------------------------


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """The HTTP status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        with err:
            return err.code
    except (OSError, ValueError):
        return None


def redis_ping(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- services ----------------------------------------------------------------------


def _needs_nothing(cfg: StackConfig) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class Service:
    """One process of the stack: how to build it, run it and tell that it answers."""

    name: str
    port: int
    prepare: Callable[[StackConfig], list[str]]  # builds if needed, returns the command
    healthy: Callable[[StackConfig], bool]
    env: Callable[[StackConfig], dict[str, str]] | None = None
    after_start: Callable[[StackConfig], None] | None = None
    fresh_log: bool = False  # start each run with an empty log (readiness reads it)
    # The services that must answer before this one starts, on a given stack.
    needs: Callable[[StackConfig], tuple[str, ...]] = _needs_nothing


def _livekit_command(cfg: StackConfig) -> list[str]:
    """LiveKit with nothing listening beyond 127.0.0.1.

    ``bind_addresses`` covers the HTTP/signal port only. v1.11.0 binds its RTC TCP port
    on every interface (no address option), so that listener is off (``tcp_port: 0``):
    media goes over UDP. The UDP mux opens one socket per local address that passes
    ``rtc.ips`` (loopback only with ``enable_loopback_candidate``): just 127.0.0.1.
    """
    binary = build_go_binary(cfg, LIVEKIT_MODULE, LIVEKIT_VERSION, "./cmd/server", "livekit-server")
    conf = cfg.state / "livekit.yaml"
    p = cfg.ports
    conf.write_text(
        "\n".join([
            f"port: {p.livekit}",
            "bind_addresses: [127.0.0.1]",
            "rtc:",
            "  tcp_port: 0",
            f"  udp_port: {p.livekit_rtc_udp}",
            "  node_ip: 127.0.0.1",
            "  use_external_ip: false",
            "  enable_loopback_candidate: true",
            "  ips:",
            "    includes: [127.0.0.1/32]",
            "keys:",
            f"  {API_KEY}: {API_SECRET}",
            "webhook:",
            f"  api_key: {API_KEY}",
            "  urls:",
            f"    - {cfg.webhook_url}",
            *(f"    - http://127.0.0.1:{port}/livekit/webhook" for port in cfg.extra_webhook_ports),
            *(["redis:", f"  address: 127.0.0.1:{p.redis}"] if cfg.livekit_redis else []),
            "room:",
            "  empty_timeout: 300",
            "logging:",
            "  level: info",
            "",
        ])
    )
    return [str(binary), "--config", str(conf)]


def _minio_command(cfg: StackConfig) -> list[str]:
    binary = build_go_binary(cfg, MINIO_MODULE, MINIO_VERSION, ".", "minio")
    data = cfg.state / "data" / "minio"
    data.mkdir(parents=True, exist_ok=True)
    return [str(binary), "server", str(data), "--address", f"127.0.0.1:{cfg.ports.minio}",
            "--console-address", f"127.0.0.1:{cfg.minio_console_port}", "--quiet"]


def _minio_env(cfg: StackConfig) -> dict[str, str]:
    return {"MINIO_ROOT_USER": MINIO_USER, "MINIO_ROOT_PASSWORD": MINIO_PASSWORD,
            "MINIO_BROWSER": "off", "MINIO_UPDATE": "off"}


def _minio_bucket(cfg: StackConfig) -> None:
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3", endpoint_url=cfg.s3_endpoint, aws_access_key_id=MINIO_USER,
        aws_secret_access_key=MINIO_PASSWORD, region_name="us-east-1",
        config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2}),
    )
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if S3_BUCKET not in existing:
        s3.create_bucket(Bucket=S3_BUCKET)


def _azurite_command(cfg: StackConfig) -> list[str]:
    binary = install_azurite(cfg)
    return [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(cfg.ports.azurite),
            "--inMemoryPersistence", "--skipApiVersionCheck", "--silent"]


def _azurite_container(cfg: StackConfig) -> None:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient(
        cfg.azure_endpoint, credential={"account_name": AZURE_ACCOUNT, "account_key": AZURE_KEY}
    )
    with contextlib.suppress(ResourceExistsError):
        client.create_container(AZURE_CONTAINER, timeout=10)


def _redis_command(cfg: StackConfig) -> list[str]:
    binary = find_debian_binary("redis-server", "redis-server")
    return [str(binary), "--bind", "127.0.0.1", "--port", str(cfg.ports.redis),
            "--save", "", "--appendonly", "no", "--dir", str(cfg.state / "data")]


def _egress_command(cfg: StackConfig) -> list[str]:
    binary = build_egress(cfg)
    try:
        EGRESS_TMP.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StackError(f"egress: cannot create {EGRESS_TMP}, where egress keeps its"
                         f" temporary files: {err.strerror}") from None
    conf = cfg.state / "egress.yaml"
    p = cfg.ports
    conf.write_text("\n".join([
        f"api_key: {API_KEY}",
        f"api_secret: {API_SECRET}",
        f"ws_url: ws://127.0.0.1:{p.livekit}",
        "insecure: true",  # its Chrome loads the template over http on loopback
        "redis:",
        f"  address: 127.0.0.1:{p.redis}",
        f"template_port: {p.egress}",
        "logging:",
        "  level: info",
        # Default upload target, for RECORDING_UPLOAD=egress (this release reads it at
        # the top level; without it a recording stays on the egress's disk).
        "s3:",
        f"  access_key: {MINIO_USER}",
        f"  secret: {MINIO_PASSWORD}",
        "  region: us-east-1",
        f"  endpoint: {cfg.s3_endpoint}",
        f"  bucket: {S3_BUCKET}",
        "  force_path_style: true",
        # Its defaults ask 4 CPUs for a room composite; a small machine refuses all. It
        # accepts a request only while that much CPU is idle: with bots, LiveKit and a
        # test run on two cores, three participants' files at 0.5 each were refused
        # ("no response from servers"). The small costs let it record slowly instead.
        "cpu_cost:",
        "  max_cpu_utilization: 0.95",
        "  room_composite_cpu_cost: 0.3",
        "  audio_room_composite_cpu_cost: 0.1",
        "  web_cpu_cost: 0.3",
        "  audio_web_cpu_cost: 0.1",
        "  participant_cpu_cost: 0.2",
        "  track_composite_cpu_cost: 0.2",
        "  track_cpu_cost: 0.1",
        "",
    ]))
    return [str(binary), "--config", str(conf)]


def _egress_env(cfg: StackConfig) -> dict[str, str]:
    binary_dir = cfg.bin_dir / EGRESS_BUILD
    home = cfg.state / "data" / "egress-home"
    home.mkdir(parents=True, exist_ok=True)
    # TMPDIR: egress leaves a folder per handler behind, emptied here at each start. It
    # is short on purpose: Chrome puts a unix socket in it (at most 107 bytes of path).
    tmp = Path(tempfile.gettempdir()) / f"recconsole-egress-{cfg.ports.egress}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return {"PATH": f"{binary_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "PULSE_SERVER": cfg.pulse_server, "HOME": str(home), "TMPDIR": str(tmp)}


def _egress_ready(cfg: StackConfig) -> bool:
    """Registered with LiveKit through Redis (its log says so) and serving its template."""
    log = cfg.state / "logs" / "egress.log"
    try:
        ready = "service ready" in log.read_text(errors="replace")
    except OSError:
        return False
    return ready and http_status(f"http://127.0.0.1:{cfg.ports.egress}/") is not None


def _mediamtx_command(cfg: StackConfig) -> list[str]:
    """MediaMTX receiving and serving RTMP on 127.0.0.1, its API beside it; nothing else.

    Its other servers (RTSP, HLS, WebRTC, SRT, metrics, pprof, playback) are off, so it
    opens no other port. Anyone on this machine may publish and read any path.
    """
    binary = build_mediamtx(cfg)
    conf = cfg.state / "mediamtx.yml"
    conf.write_text("\n".join([
        "logLevel: info",
        "logDestinations: [stdout]",
        "authMethod: internal",
        "authInternalUsers:",
        "  - user: any",
        "    pass:",
        "    ips: [127.0.0.1/32]",
        "    permissions:",
        "      - action: publish",
        "      - action: read",
        "      - action: api",
        "api: yes",
        f"apiAddress: 127.0.0.1:{cfg.mediamtx_api_port}",
        "metrics: no",
        "pprof: no",
        "playback: no",
        "rtsp: no",
        "rtmp: yes",
        f"rtmpAddress: 127.0.0.1:{cfg.ports.mediamtx}",
        'rtmpEncryption: "no"',
        "hls: no",
        "webrtc: no",
        "srt: no",
        "paths:",
        "  all_others:",
        "",
    ]))
    return [str(binary), str(conf)]


def _mediamtx_ready(cfg: StackConfig) -> bool:
    """Its API answers (opened after the RTMP listener; a probe of that would be logged)."""
    return http_status(f"{cfg.mediamtx_api_url}/v3/paths/list") == 200


def _pulse_command(cfg: StackConfig) -> list[str]:
    """PulseAudio with a silent speaker and a microphone, both without hardware.

    The speaker is a null sink whose monitor can be recorded; the microphone is a
    source fed by a second null sink (Qt lists no monitor sources as inputs), so
    what is played into that sink is what the microphone hears.
    """
    binary = find_debian_binary("pulseaudio", "pulseaudio")
    script = cfg.state / "pulse.pa"
    script.write_text("\n".join([
        f"load-module module-null-sink sink_name={PULSE_SINK}"
        " sink_properties=device.description=Silent-speaker",
        f"load-module module-native-protocol-tcp listen=127.0.0.1 port={cfg.ports.pulse}"
        " auth-anonymous=1",
        f"load-module module-null-sink sink_name={PULSE_MIC_FEED}"
        " sink_properties=device.description=Microphone-feed",
        "load-module module-remap-source source_name=recconsole_mic"
        f" master={PULSE_MIC_FEED}.monitor source_properties=device.description=Test-microphone",
        f"set-default-sink {PULSE_SINK}",
        "set-default-source recconsole_mic",
        "",
    ]))
    return [str(binary), "-n", "-F", str(script), "--daemonize=no", "--exit-idle-time=-1",
            "--use-pid-file=no", "--log-target=stderr"]


def _pulse_env(cfg: StackConfig) -> dict[str, str]:
    # Its own home and runtime folder: never the desktop's sound server or cookie.
    home, runtime = cfg.state / "data" / "pulse-home", cfg.state / "run" / "pulse"
    for folder in (home, runtime):
        folder.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    return {"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime),
            "XDG_CONFIG_HOME": str(home / ".config"), "PULSE_SERVER": ""}


SERVICES: Final[dict[str, Service]] = {
    s.name: s
    for s in (
        # With Redis (StackConfig.livekit_redis) it fails at once if Redis does not answer.
        Service("livekit", PROFILES["dev"].livekit, _livekit_command,
                lambda c: http_status(c.livekit_url) == 200,
                needs=lambda c: ("redis",) if c.livekit_redis else ()),
        Service("minio", PROFILES["dev"].minio, _minio_command,
                lambda c: http_status(f"{c.s3_endpoint}/minio/health/live") == 200,
                env=_minio_env, after_start=_minio_bucket),
        Service("azurite", PROFILES["dev"].azurite, _azurite_command,
                lambda c: http_status(f"{c.azure_endpoint}?comp=list") is not None,
                after_start=_azurite_container),
        Service("redis", PROFILES["dev"].redis, _redis_command,
                lambda c: redis_ping(c.ports.redis)),
        Service("pulse", PROFILES["dev"].pulse, _pulse_command,
                lambda c: port_in_use(c.ports.pulse), env=_pulse_env),
        # Needs LiveKit with Redis (StackConfig.livekit_redis), Redis, PulseAudio for its
        # sound, and MinIO, where its config uploads recordings.
        Service("egress", PROFILES["dev"].egress, _egress_command, _egress_ready,
                env=_egress_env, fresh_log=True,
                needs=lambda c: ("redis", "livekit", "pulse", "minio")),
        # Receives live streams (rtmp://127.0.0.1:1935/PATH); started only when named.
        Service("mediamtx", PROFILES["dev"].mediamtx, _mediamtx_command, _mediamtx_ready),
    )
}
# What `up` starts unless told otherwise (in the order their needs give, see
# start_order). The silent speaker is for tests and headless recording, never for the
# console on a desktop (which keeps its own sound server).
DEFAULT_SERVICES: Final = ("redis", "minio", "azurite", "livekit")
RECORDING_SERVICES: Final = ("pulse", "egress")


def _service_port(cfg: StackConfig, name: str) -> int:
    return int(getattr(cfg.ports, name))


def dependency_order(names: Sequence[str], needs: Callable[[str], Sequence[str]]) -> list[str]:
    """``names`` and everything they need, each after its needs, once.

    Otherwise the order of ``names`` is kept. A cycle raises a one-line StackError.
    """
    order: list[str] = []
    path: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in path:
            cycle = [*path[path.index(name) + 1:], name]
            raise StackError(f"{name}: needs itself through {', '.join(cycle)}")
        path.append(name)
        for need in needs(name):
            visit(need)
        path.pop()
        order.append(name)

    for name in names:
        visit(name)
    return order


def start_order(cfg: StackConfig, names: Sequence[str]) -> list[str]:
    """The services to start for ``names`` on this stack (their needs too), in order."""
    unknown = [name for name in names if name not in SERVICES]
    if unknown:
        raise StackError(f"unknown service(s): {', '.join(unknown)}")
    return dependency_order(names, lambda name: SERVICES[name].needs(cfg))


class DevStack:
    """Starts, checks and stops the services of one profile; processes outlive this object."""

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self._procs: dict[str, subprocess.Popen[bytes]] = {}  # the ones this object started

    def _pidfile(self, name: str) -> Path:
        return self.cfg.state / "run" / f"{name}.pid"

    def log_path(self, name: str) -> Path:
        return self.cfg.state / "logs" / f"{name}.log"

    def pid(self, name: str) -> int | None:
        try:
            pid = int(self._pidfile(name).read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def build(self, names: Sequence[str] = tuple(SERVICES)) -> None:
        """Build or install every binary without starting anything."""
        self.cfg.state.mkdir(parents=True, exist_ok=True)
        for name in names:
            SERVICES[name].prepare(self.cfg)

    def up(self, names: Sequence[str] = DEFAULT_SERVICES, timeout: float = 60.0) -> list[str]:
        """Start the named services and what they need, each after its needs.

        Those already answering are left alone. Returns the services, in start order.
        """
        order = start_order(self.cfg, names)
        for name in order:
            self.start(name, timeout)
        return order

    def start(self, name: str, timeout: float = 60.0) -> None:
        """Start one service; what it needs must answer already (``up`` sees to that)."""
        service, cfg = SERVICES[name], self.cfg
        if self.pid(name) and service.healthy(cfg):
            return
        missing = [need for need in service.needs(cfg) if not SERVICES[need].healthy(cfg)]
        if missing:
            raise StackError(f"{name}: needs {', '.join(missing)}, not answering on"
                             f" {', '.join(str(_service_port(cfg, m)) for m in missing)}"
                             " (up starts what a service needs)")
        port = _service_port(cfg, name)
        if port_in_use(port):
            raise StackError(f"{name}: port {port} on 127.0.0.1 is taken by another program")
        for sub in ("run", "logs", "data"):
            (cfg.state / sub).mkdir(parents=True, exist_ok=True)
        command = service.prepare(cfg)
        env = {**os.environ, **(service.env(cfg) if service.env else {})}
        with open(self.log_path(name), "wb" if service.fresh_log else "ab") as log:
            proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=cfg.state, env=env, start_new_session=True,
            )
        self._procs[name] = proc
        self._pidfile(name).write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while not service.healthy(cfg):
            if proc.poll() is not None:
                raise StackError(
                    f"{name}: exited with code {proc.returncode}: {self._last_log(name)}"
                )
            if time.monotonic() > deadline:
                self.stop(name)
                raise StackError(f"{name}: not answering on port {port} after {timeout:.0f} s:"
                                 f" {self._last_log(name)}")
            time.sleep(0.1)
        if service.after_start:
            try:
                service.after_start(cfg)
            except Exception as err:
                raise StackError(f"{name}: started but setup failed: {err}") from err

    def _last_log(self, name: str) -> str:
        try:
            lines = self.log_path(name).read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1][:300] if lines else "no output"

    def stop(self, name: str, timeout: float = 10.0) -> None:
        pid = self.pid(name)
        proc = self._procs.pop(name, None)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            if not _wait_gone(pid, proc, timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                _wait_gone(pid, proc, timeout)
        self._pidfile(name).unlink(missing_ok=True)

    def down(self, names: Sequence[str] = tuple(SERVICES)) -> None:
        """Stop the named services (only those), each before what it needs."""
        for name in reversed(start_order(self.cfg, names)):
            if name in names:
                self.stop(name)

    def status(self) -> Iterator[tuple[str, str]]:
        for name, service in SERVICES.items():
            pid = self.pid(name)
            port = _service_port(self.cfg, name)
            if pid is None:
                yield name, "stopped"
            elif service.healthy(self.cfg):
                yield name, f"running (pid {pid}) on 127.0.0.1:{port}"
            else:
                yield name, f"not answering (pid {pid}) on 127.0.0.1:{port}"


def _wait_gone(pid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    """Wait until the process has exited (reaping it when it is our child)."""
    if proc is not None:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "env", "build"])
    parser.add_argument("services", nargs="*", metavar="SERVICE",
                        help=f"any of {', '.join(SERVICES)}"
                             f" (default: {', '.join(DEFAULT_SERVICES)})")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="dev")
    parser.add_argument("--offset", type=int, default=0,
                        help="shift every port by this much (to run stacks side by side: offsets"
                             " that are multiples of 10 under 1000 apart share no port)")
    parser.add_argument("--webhook-port", type=int, default=None,
                        help="port of the webhook listener LiveKit posts to (default 6080)")
    args = parser.parse_args(argv)
    unknown = set(args.services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown service(s): {', '.join(sorted(unknown))}")
    # The dev profile records for real: its LiveKit keeps egress jobs in Redis and
    # the egress service runs beside it.
    recording = args.profile == "dev"
    cfg = StackConfig.for_profile(args.profile, webhook_port=args.webhook_port,
                                  offset=args.offset, livekit_redis=recording)
    stack = DevStack(cfg)
    default = [*DEFAULT_SERVICES, *(RECORDING_SERVICES if recording else ())]
    names = args.services or (list(SERVICES) if args.command in ("down", "status") else default)
    try:
        if args.command == "up":
            started = stack.up(names)  # and what they need, in the order they need
            for name, state in stack.status():
                if name in started:
                    _log(f"{name}: {state}")
        elif args.command == "down":
            stack.down(names)
        elif args.command == "build":
            stack.build(names)
        elif args.command == "status":
            for name, state in stack.status():
                print(f"{name:8} {state}")
        else:
            for key, value in cfg.env().items():
                print(f"export {key}={value}")
    except StackError as err:
        _log(str(err))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
