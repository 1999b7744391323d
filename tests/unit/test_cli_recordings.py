"""``recconsole recordings``: arguments, exit codes and output shapes, on a local folder
store (the real LocalStore backend, no service). Nothing here reaches a server: the
LiveKit URL and the S3 endpoint point at a closed port, so whatever is refused before
any call is refused with the options' exit code, not the unreachable one."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from recconsole.cli import build_parser, main
from recconsole.cli_recordings import (
    EXIT_BAD_OPTION,
    EXIT_ERROR,
    EXIT_IN_PROGRESS,
    EXIT_NO_SUCH_RECORDING,
    MAX_EXPIRES,
    delete_exit_code,
    print_table,
    recording_json,
)
from recconsole.core.errors import RecordingInProgress, ServerUnreachable
from recconsole.core.recording_info import MetadataState, RecordingInfo, RecordingNameError
from recconsole.storage.base import ObjectNotFound, StoreError
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.local import LocalStore

pytestmark = pytest.mark.unit

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens there
NAME = "Café ☕ #1 & 50% \"x\"-RM_aB3-2024-06-13T101010-3fa9c1.mp4"


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


def _run(store_dir: Path, capsys: pytest.CaptureFixture[str], *argv: str,
         storage: str = "local") -> tuple[int, str, str]:
    code = main(["--env-file", str(store_dir / "no.env"), "--livekit-url", NOWHERE,
                 "--set", f"RECORDINGS_STORAGE={storage}", "--set",
                 f"RECORDINGS_DIR={store_dir}", "--set", f"S3_ENDPOINT={NOWHERE}",
                 "recordings", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _write(store_dir: Path, name: str, body: bytes, info: RecordingInfo | None) -> None:
    async def write() -> None:
        catalog = RecordingsCatalog(LocalStore(store_dir), "recordings/")
        await catalog.store.write_bytes(catalog.recording_key(name), body)
        if info is not None:
            await catalog.save_metadata(info)

    asyncio.run(write())


def test_the_actions_and_their_options_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(["recordings", "list", "--room", "é 1", "--json"])
    assert (args.command, args.recordings_command, args.room, args.json) == (
        "recordings", "list", "é 1", True)
    args = parser.parse_args(["recordings", "delete", "a.mp4", "b c.ogg"])
    assert (args.names, args.json) == (["a.mp4", "b c.ogg"], False)
    args = parser.parse_args(["recordings", "url", "a.mp4", "--expires", "60", "--json"])
    assert (args.name, args.expires, args.json) == ("a.mp4", 60, True)


@pytest.mark.parametrize("argv", [["recordings"], ["recordings", "delete"],
                                  ["recordings", "url"], ["recordings", "url", "a", "b"],
                                  ["recordings", "url", "a.mp4", "--expires", "soon"],
                                  ["recordings", "list", "--nope"]])
def test_a_malformed_command_line_exits_2(argv: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == EXIT_BAD_OPTION
    assert "usage: recconsole" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "says"), [
    (["url", "x.mp4", "--expires", "0"], "--expires must be 1 to 604800 seconds"),
    (["url", "x.mp4", "--expires", str(MAX_EXPIRES + 1)], "not 604801"),
    (["url", "../x.mp4"], "not a valid recording name: '../x.mp4'"),
    (["url", "recording.json"], "not a recording: 'recording.json'"),
    (["delete", "fine.mp4", ".metadata/fine.json"], "not a valid recording name"),
])
def test_a_bad_option_or_name_exits_2_with_one_line_and_asks_nothing(
    argv: list[str], says: str, store_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # S3 at a closed port: had anything been asked, the exit code would be 1.
    code, out, err = _run(store_dir, capsys, *argv, "--json", storage="s3")
    assert code == EXIT_BAD_OPTION
    assert err.startswith(f"recconsole recordings {argv[0]}: ")
    assert says in err
    assert len(err.strip().splitlines()) == 1
    assert json.loads(out) == {"error": err.strip().split(": ", 1)[1], "exitCode": 2}


def test_a_bad_storage_setting_exits_2(store_dir: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(store_dir, capsys, "list", "--json", storage="azure")
    assert code == EXIT_BAD_OPTION
    assert "AZURE_ACCOUNT_NAME" in err
    assert json.loads(out)["exitCode"] == 2


def test_storage_unreachable_exits_1_with_the_reason(
    store_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(store_dir, capsys, "list", "--json", storage="s3")
    assert code == EXIT_ERROR
    assert err.startswith("recconsole recordings list: storage unreachable at "
                          f"{NOWHERE}")
    assert len(err.strip().splitlines()) == 1
    assert json.loads(out) == {"error": err.strip().split(": ", 1)[1], "exitCode": 1}
    code, out, err = _run(store_dir, capsys, "url", NAME, storage="s3")
    assert (code, out) == (EXIT_ERROR, "")
    assert "storage unreachable" in err


def test_list_json_gives_every_field_from_the_metadata_and_the_listing(
    store_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    participant = "Zoë 🎤-RM_aB3-2024-06-13T101011-123456abcdef.ogg"
    _write(store_dir, NAME, b"\0" * 300, RecordingInfo(
        "EG_1", NAME, "Café ☕ #1 & 50% \"x\"", "RM_aB3", 1_718_273_410_000, 12.5, 300,
        extra={"kind": "room", "layout": "speaker", "options": {"preset": "1080p30"}}))
    _write(store_dir, participant, b"\0" * 20, RecordingInfo(
        "EG_2", participant, "Zoë 🎤", "RM_aB3", 1_718_273_411_000, 2.0, 20,
        extra={"kind": "participant", "participant": "zoë", "session": "RM_aB3-123456",
               "status": "FAILED", "error": "the disk was full"}))
    bare = "bare room-RM_zz-2024-06-13T090000.mp4"
    _write(store_dir, bare, b"\0" * 7, None)

    code, out, err = _run(store_dir, capsys, "list", "--json")
    assert (code, err) == (0, "")
    rows = json.loads(out)["recordings"]
    assert [r["name"] for r in rows] == [participant, NAME, bare]  # newest first
    assert rows[1] == {
        "name": NAME, "room": "Café ☕ #1 & 50% \"x\"", "roomId": "RM_aB3",
        "egressId": "EG_1", "format": "mp4", "startedAt": 1_718_273_410_000,
        "endedAt": 1_718_273_422_500, "duration": 12.5, "size": 300, "metadata": "ok",
        "status": "COMPLETE", "error": None, "kind": "room", "participant": None,
        "session": None, "extra": {"layout": "speaker", "options": {"preset": "1080p30"}}}
    assert {k: rows[0][k] for k in ("format", "status", "error", "kind", "participant",
                                    "session", "extra")} == {
        "format": "ogg", "status": "FAILED", "error": "the disk was full",
        "kind": "participant", "participant": "zoë", "session": "RM_aB3-123456", "extra": {}}
    assert rows[2] == {
        "name": bare, "room": "bare room", "roomId": "RM_zz", "egressId": None,
        "format": "mp4", "startedAt": 1_718_269_200_000, "endedAt": None, "duration": None,
        "size": 7, "metadata": "missing", "status": None, "error": None, "kind": None,
        "participant": None, "session": None, "extra": {}}

    code, out, _ = _run(store_dir, capsys, "list", "--json", "--room", "Zoë 🎤")
    assert [r["name"] for r in json.loads(out)["recordings"]] == [participant]
    code, out, _ = _run(store_dir, capsys, "list", "--room", "nobody")
    assert (code, out.splitlines()[-1]) == (0, "0 recordings")


def test_list_table_is_one_line_per_recording_whatever_the_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = [RecordingInfo("EG_1", "two\nlines-RM_a-1.mp4", "two\nlines", "RM_a", 0, 61.0,
                          3 * 1024 * 1024),
            RecordingInfo("", "x-RM_b-1.mp4", "x", "RM_b", 0, 0.0, 5,
                          metadata=MetadataState.UNREADABLE)]
    print_table(rows)
    header, first, second, total = capsys.readouterr().out.splitlines()
    assert header.split() == ["Name", "Room", "Started", "Duration", "Size", "Status",
                              "Recording"]
    assert first.split("  ")[0] == "two\\nlines-RM_a-1.mp4"
    assert "0:01:01" in first
    assert "3.0 MB" in first
    assert "COMPLETE" in first
    assert "metadata unreadable" in second
    assert total == "2 recordings"


def test_an_unreadable_row_has_no_status_duration_or_kind() -> None:
    row = recording_json(RecordingInfo("", "x-RM_b-5.mp4", "x", "RM_b", 5, 0.0, 5,
                                       metadata=MetadataState.UNREADABLE))
    assert (row["metadata"], row["status"], row["duration"], row["kind"],
            row["endedAt"]) == ("unreadable", None, None, None, None)


def test_url_of_a_local_recording_is_its_file(store_dir: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _write(store_dir, NAME, b"the recording", None)
    code, out, err = _run(store_dir, capsys, "url", NAME)
    assert (code, err) == (0, "")
    url = out.strip()
    assert url.isascii()
    assert Path(unquote(urlsplit(url).path)).read_bytes() == b"the recording"
    code, out, _ = _run(store_dir, capsys, "url", NAME, "--json")
    assert json.loads(out) == {"name": NAME, "url": url, "via": "local", "expiresAt": None}


def test_url_of_a_missing_recording_exits_6(store_dir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(store_dir, capsys, "url", "gone-RM_a-1.mp4", "--json")
    assert code == EXIT_NO_SUCH_RECORDING
    assert err == ("recconsole recordings url: no recording 'gone-RM_a-1.mp4'"
                   " (recconsole recordings list shows them)\n")
    assert json.loads(out)["exitCode"] == 6


def test_delete_reports_each_name_and_the_exit_code_says_which_failure(
    store_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    _write(store_dir, NAME, b"kept", None)
    # Only missing names: 6, and nothing needed LiveKit to say so.
    code, out, err = _run(store_dir, capsys, "delete", "gone-RM_a-1.mp4", "gone-RM_a-2.mp4")
    assert (code, out) == (EXIT_NO_SUCH_RECORDING, "")
    assert err.count("no recording") == 2
    # A recording is deleted only once LiveKit says it is not being recorded: LiveKit
    # unreachable, so it is kept, and a mix of failures exits 1.
    code, out, err = _run(store_dir, capsys, "delete", NAME, "gone-RM_a-1.mp4", NAME,
                          "--json")
    assert code == EXIT_ERROR
    result = json.loads(out)
    assert (result["deleted"], result["failed"], result["exitCode"]) == (0, 2, 1)
    assert [(r["name"], r["deleted"], r["exitCode"]) for r in result["results"]] == [
        (NAME, False, 1), ("gone-RM_a-1.mp4", False, 6)]  # each name once
    assert "Cannot reach the LiveKit server" in result["results"][0]["error"]
    assert len(err.strip().splitlines()) == 2
    assert (store_dir / "recordings" / NAME).read_bytes() == b"kept"


def test_the_command_loads_no_storage_code_until_it_runs() -> None:
    probe = ("import sys, recconsole.cli as c; c.build_parser();"
             "print(sorted(m for m in sys.modules if m.startswith(("
             "'recconsole.storage', 'recconsole.server', 'botocore', 'azure', 'aiohttp.web'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_a_deletion_exits_with_the_code_every_failure_shares_else_1() -> None:
    missing, busy = ObjectNotFound("k"), RecordingInProgress("busy")
    assert delete_exit_code({"a": None, "b": None}) == 0
    assert delete_exit_code({"a": None, "b": missing, "c": ObjectNotFound("k2")}) == \
        EXIT_NO_SUCH_RECORDING
    assert delete_exit_code({"a": busy, "b": None}) == EXIT_IN_PROGRESS == 7
    assert delete_exit_code({"a": RecordingNameError("x")}) == EXIT_BAD_OPTION
    assert delete_exit_code({"a": StoreError("down")}) == EXIT_ERROR
    assert delete_exit_code({"a": ServerUnreachable("down")}) == EXIT_ERROR
    assert delete_exit_code({"a": missing, "b": busy}) == EXIT_ERROR
