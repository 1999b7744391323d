"""The recordings table model: order, filters, live updates that keep the selection."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QItemSelectionModel, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from recconsole.core.recording_info import MetadataState, RecordingInfo
from recconsole.ui import recordings_model
from recconsole.ui.recordings_model import RecordingRole, RecordingsModel

pytestmark = pytest.mark.gui

DAY = 86_400_000


def _rec(i: int, room: str = "daily", **changes: object) -> RecordingInfo:
    fields: dict[str, object] = {
        "id": f"EG_{i}", "name": f"{room}-RM_x-{i:04d}.mp4", "room_name": room,
        "room_id": "RM_x", "started_at": 1_700_000_000_000 + i * DAY, "duration": 65.4 + i,
        "size": 1536 * (i + 1), **changes}
    return RecordingInfo(**fields)  # type: ignore[arg-type]


@pytest.fixture
def table(qtbot: QtBot) -> tuple[RecordingsModel, QTableView]:
    model = RecordingsModel()
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    qtbot.addWidget(view)
    return model, view


def test_newest_first_with_readable_columns(table: tuple[RecordingsModel, QTableView]) -> None:
    model, _ = table
    model.merge([_rec(1), _rec(3), _rec(2)])
    assert model.visible_names() == [_rec(3).name, _rec(2).name, _rec(1).name]
    texts = [model.index(2, c).data() for c in range(5)]
    assert texts[:2] == [_rec(1).name, "daily"]
    assert texts[3:] == ["0:01:06", "3.0 KB"]
    assert model.index(0, 0).data(RecordingRole) == _rec(3)


def test_any_column_sorts_both_ways(table: tuple[RecordingsModel, QTableView]) -> None:
    model, _ = table
    model.merge([_rec(1, "b"), _rec(2, "a"), _rec(3, "c")])
    model.sort(1, Qt.SortOrder.AscendingOrder)
    assert [model.info(r).room_name for r in range(3)] == ["a", "b", "c"]
    model.sort(4, Qt.SortOrder.DescendingOrder)
    assert [model.info(r).size for r in range(3)] == [6144, 4608, 3072]


def test_filters_by_room_and_date(table: tuple[RecordingsModel, QTableView]) -> None:
    model, _ = table
    model.merge([_rec(i, "Weekly-Sync" if i % 2 else "standup") for i in range(10)])
    model.set_room_filter("weekly")
    assert model.rowCount() == 5
    since = _rec(4).started_at
    model.set_date_range(since, since + 3 * DAY)
    assert sorted(model.info(r).id for r in range(model.rowCount())) == ["EG_5", "EG_7"]
    model.set_room_filter("")
    model.set_date_range(None, None)
    assert model.rowCount() == 10


def test_new_and_updated_rows_keep_the_selection(
    table: tuple[RecordingsModel, QTableView],
) -> None:
    model, view = table
    model.merge([_rec(1), _rec(5)])
    view.selectionModel().select(model.index(1, 0), QItemSelectionModel.SelectionFlag.Select
                                 | QItemSelectionModel.SelectionFlag.Rows)
    selected = view.selectionModel().selectedRows()[0].data(RecordingRole)
    assert selected == _rec(1)
    model.merge([_rec(9), _rec(3), _rec(1, duration=99.0)])  # newer rows go above it
    rows = view.selectionModel().selectedRows()
    assert [r.data(RecordingRole).name for r in rows] == [_rec(1).name]
    assert rows[0].row() == 3
    assert model.index(3, 3).data() == "0:01:39"
    assert view.verticalHeader().count() == model.rowCount() == 4


def test_removed_rows_go_and_the_rest_stay_selected(
    table: tuple[RecordingsModel, QTableView],
) -> None:
    model, view = table
    model.merge([_rec(i) for i in range(5)])
    view.selectionModel().select(model.index(4, 0), QItemSelectionModel.SelectionFlag.Select
                                 | QItemSelectionModel.SelectionFlag.Rows)
    model.remove({_rec(3).name, _rec(2).name, "not-there.mp4"})
    assert model.visible_names() == [_rec(4).name, _rec(1).name, _rec(0).name]
    assert [r.data(RecordingRole) for r in view.selectionModel().selectedRows()] == [_rec(0)]
    model.merge([_rec(3)])  # it can come back
    assert model.total == 4


def test_rows_without_or_with_unreadable_metadata_say_so(
    table: tuple[RecordingsModel, QTableView],
) -> None:
    model, _ = table
    model.merge([_rec(1, metadata=MetadataState.UNREADABLE, duration=0.0),
                 _rec(2, metadata=MetadataState.MISSING, duration=0.0)])
    assert model.index(1, 3).data() == "metadata unreadable"
    assert model.index(0, 3).data() == "—"
    assert "No metadata file" in model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)


def _part(i: int, who: str, session: str = "RM_x-aaaaaa", **changes: object) -> RecordingInfo:
    return _rec(i, extra={"kind": "participant", "participant": who, "session": session},
                **changes)


def test_the_recording_column_says_what_each_file_is(
    table: tuple[RecordingsModel, QTableView],
) -> None:
    model, _ = table
    room = _rec(1, extra={"kind": "room", "layout": "speaker",
                          "options": {"content": "audio", "preset": "1080p30", "output": "hls"}})
    alice = _part(2, "alice")
    bob = _rec(4, extra={"kind": "participant", "participant": "bob", "screenShare": True,
                         "session": "RM_x-aaaaaa", "status": "FAILED", "error": "gone"})
    other = _part(3, "carol", "RM_x-bbbbbb")
    model.merge([room, alice, bob, other, _rec(5)])
    assert model.rowCount() == 4  # two sessions, two room recordings
    for row in reversed(range(model.rowCount())):
        model.set_expanded(row, True)
    texts = {model.info(r).id: model.index(r, 5).data() for r in range(model.rowCount())
             if not model.is_session(r)}
    assert texts == {
        "EG_1": "room, speaker, audio only, 1080p30, HLS",
        "EG_2": "alice, session aaaaaa",
        "EG_4": "bob's screen, session aaaaaa, FAILED: gone",
        "EG_3": "carol, session bbbbbb",
        "EG_5": "room, grid",  # the tutorial's own metadata: no extra keys
    }


def test_a_session_is_one_row_that_opens_onto_its_files(
    table: tuple[RecordingsModel, QTableView],
) -> None:
    model, _ = table
    alice, bob = _part(2, "alice", duration=30.0), _part(4, "bob", duration=90.0)
    model.merge([_rec(1), alice, bob, _rec(5)])
    assert model.visible_names() == [_rec(5).name, "RM_x-aaaaaa", _rec(1).name]  # by bob's
    assert model.is_session(1)
    assert not model.is_expanded(1)
    texts = [model.index(1, c).data() for c in range(6)]
    assert texts == ["▸ each participant · session aaaaaa · 2 files", "daily",
                     recordings_model.local_time(alice.started_at), "0:01:30",
                     "12.0 KB", "session aaaaaa"]  # earliest, longest, summed
    assert [f.name for f in model.files(1)] == [bob.name, alice.name]  # newest first
    assert model.files(0) == [_rec(5)]
    model.set_expanded(1, True)
    assert model.visible_names() == [_rec(5).name, "RM_x-aaaaaa", bob.name, alice.name,
                                     _rec(1).name]
    assert model.index(1, 0).data().startswith("▾ ")
    assert model.index(2, 0).data() == f"   ↳ {bob.name}"
    assert model.info(3) == alice
    assert model.files(3) == [alice]
    model.sort(3, Qt.SortOrder.AscendingOrder)  # shortest first: it stays open
    assert model.visible_names() == ["RM_x-aaaaaa", alice.name, bob.name, _rec(1).name,
                                     _rec(5).name]
    model.toggle(0)
    assert model.visible_names() == ["RM_x-aaaaaa", _rec(1).name, _rec(5).name]


def test_filters_match_a_session_by_its_files(
    table: tuple[RecordingsModel, QTableView],
) -> None:
    model, _ = table
    model.merge([_part(2, "alice"), _part(6, "bob"), _rec(4), _rec(9, "other")])
    model.set_expanded(model.visible_names().index("RM_x-aaaaaa"), True)
    model.set_room_filter("oth")
    assert model.visible_names() == [_rec(9, "other").name]
    model.set_room_filter("dai")
    since = _rec(5).started_at
    model.set_date_range(since, since + 2 * DAY)  # bob's file only, and the session stays open
    assert model.visible_names() == ["RM_x-aaaaaa", _part(6, "bob").name]
    assert model.index(0, 0).data().endswith("· 1 file")
    model.set_room_filter("")
    model.set_date_range(_rec(7).started_at, None)  # no file of the session: no session
    assert model.visible_names() == [_rec(9, "other").name]


def test_a_new_file_joins_its_session_and_selections_stay(
    table: tuple[RecordingsModel, QTableView],
) -> None:
    model, view = table
    model.merge([_rec(1), _part(2, "alice")])
    model.set_expanded(0, True)
    view.selectionModel().select(model.index(1, 0), QItemSelectionModel.SelectionFlag.Select
                                 | QItemSelectionModel.SelectionFlag.Rows)
    model.merge([_part(3, "bob"), _part(5, "carol", "RM_x-bbbbbb"), _rec(4)])
    assert model.visible_names() == ["RM_x-bbbbbb", _rec(4).name, "RM_x-aaaaaa",
                                     _part(3, "bob").name, _part(2, "alice").name, _rec(1).name]
    rows = view.selectionModel().selectedRows()
    assert [(r.row(), r.data(RecordingRole)) for r in rows] == [(4, _part(2, "alice"))]
    assert model.index(2, 0).data().endswith("· 2 files")
    assert view.verticalHeader().count() == model.rowCount() == 6
    model.merge([_part(0, "dave")])  # into a closed session: still one row
    assert model.visible_names()[:2] == ["RM_x-bbbbbb", _rec(4).name]
    assert model.rowCount() == 7  # the open one shows it


def test_the_last_file_of_a_session_going_takes_its_row(
    table: tuple[RecordingsModel, QTableView],
) -> None:
    model, view = table
    alice, bob = _part(2, "alice"), _part(3, "bob")
    model.merge([_rec(1), alice, bob])
    view.selectionModel().select(model.index(1, 0), QItemSelectionModel.SelectionFlag.Select
                                 | QItemSelectionModel.SelectionFlag.Rows)
    model.set_expanded(0, True)
    model.remove({bob.name})
    assert model.visible_names() == ["RM_x-aaaaaa", alice.name, _rec(1).name]
    assert model.index(0, 0).data().endswith("· 1 file")
    assert [r.data(RecordingRole) for r in view.selectionModel().selectedRows()] == [_rec(1)]
    model.remove({alice.name})
    assert model.visible_names() == [_rec(1).name]
    assert model.total == 1
    model.merge([alice])  # it can come back, closed
    assert model.visible_names() == ["RM_x-aaaaaa", _rec(1).name]


def test_a_session_shows_its_first_files_thumbnail(
    table: tuple[RecordingsModel, QTableView], qtbot: QtBot
) -> None:
    model, _ = table
    wanted: list[str] = []
    model.thumbnail_wanted.connect(lambda info: wanted.append(info.name))
    model.merge([_part(2, "alice"), _part(3, "bob")])
    blank = model.index(0, 0).data(Qt.ItemDataRole.DecorationRole)
    assert wanted == [_part(3, "bob").name]
    with qtbot.waitSignal(model.dataChanged) as changed:
        model.set_thumbnail(_part(3, "bob").name, _jpeg())
    assert changed.args[0] == model.index(0, 0)
    shown = model.index(0, 0).data(Qt.ItemDataRole.DecorationRole)
    assert shown.toImage() != blank.toImage()


def _jpeg() -> bytes:
    image = QImage(320, 180, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.white)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QBuffer.OpenModeFlag.WriteOnly)
    assert image.save(buffer, "JPEG")
    return bytes(data.data())


def test_a_painted_row_asks_for_its_thumbnail_once_and_shows_it_when_it_comes(
    table: tuple[RecordingsModel, QTableView], qtbot: QtBot
) -> None:
    model, _ = table
    wanted: list[str] = []
    model.thumbnail_wanted.connect(lambda info: wanted.append(info.name))
    audio = _rec(2, extra={"options": {"content": "audio"}})
    model.merge([_rec(1), audio])
    decoration = Qt.ItemDataRole.DecorationRole
    first = model.index(model.visible_names().index(_rec(1).name), 0)
    blank = first.data(decoration)  # keeps the names in line until the picture comes
    assert first.data(decoration).toImage() == blank.toImage()
    speaker = model.index(0, 0).data(decoration)  # audio only
    assert speaker.toImage() != blank.toImage()
    assert wanted == [_rec(1).name]  # once, and never for the audio-only row
    with qtbot.waitSignal(model.dataChanged) as changed:
        model.set_thumbnail(_rec(1).name, _jpeg())
    assert changed.args[0] == first
    icon = first.data(decoration)
    assert isinstance(icon, QPixmap)
    assert (icon.width(), icon.height()) == (64, 36)
    assert model.thumbnail(_rec(1).name) == _jpeg()
    model.set_thumbnail(_rec(3).name, _jpeg())  # a row that is not there: ignored
    model.remove({_rec(1).name})
    assert model.thumbnail(_rec(1).name) is None


def test_thumbnails_kept_are_bounded_and_a_dropped_one_is_asked_for_again(
    table: tuple[RecordingsModel, QTableView], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = table
    monkeypatch.setattr(recordings_model, "KEPT_THUMBNAILS", 2)
    wanted: list[str] = []
    model.thumbnail_wanted.connect(lambda info: wanted.append(info.name))
    rows = [_rec(i) for i in range(3)]
    model.merge(rows)
    for row in rows:
        model.set_thumbnail(row.name, _jpeg())
    assert [model.thumbnail(r.name) is not None for r in rows] == [False, True, True]
    model.index(model.visible_names().index(rows[0].name), 0).data(Qt.ItemDataRole.DecorationRole)
    assert wanted == [rows[0].name]
