"""The rooms table model: snapshots merge in a few model signals and keep selections."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from pytestqt.qtbot import QtBot

from recconsole.core.recording_status import RecordingStatus
from recconsole.core.rooms import Counts, RoomsSnapshot, RoomSummary
from recconsole.ui.rooms_model import RECORDING, RoomRole, RoomsModel, rooms_proxy

pytestmark = pytest.mark.gui

NOW = 1_800_000_000.0


def _room(name: str, people: int = 0, metadata: RecordingStatus | None = None,
          egress: RecordingStatus | None = None) -> RoomSummary:
    return RoomSummary(name, f"RM_{name}", "app", NOW - 90, people, 0, metadata, "", egress,
                       "EG_1" if egress else "", NOW - 5 if egress else None)


def _snapshot(*rooms: RoomSummary, at: float = NOW) -> RoomsSnapshot:
    return RoomsSnapshot(list(rooms), True, "", at)


@pytest.fixture
def model(qtbot: QtBot) -> RoomsModel:
    model = RoomsModel()
    model.now = lambda: NOW
    return model


def test_a_snapshot_removes_in_runs_inserts_once_and_keeps_the_selection(
    model: RoomsModel, qtbot: QtBot,
) -> None:
    model.apply(_snapshot(*(_room(f"r{i}") for i in range(10))))
    proxy = rooms_proxy(model)
    selection = QItemSelectionModel(proxy)
    row = next(r for r in range(proxy.rowCount())
               if proxy.data(proxy.index(r, 0), RoomRole).name == "r5")
    selection.select(proxy.index(row, 0), QItemSelectionModel.SelectionFlag.Select)
    removals: list[tuple[int, int]] = []
    inserts: list[tuple[int, int]] = []
    model.rowsRemoved.connect(lambda _parent, first, last: removals.append((first, last)))
    model.rowsInserted.connect(lambda _parent, first, last: inserts.append((first, last)))
    kept = [f"r{i}" for i in (0, 4, 5, 9)]
    came, went = model.apply(_snapshot(*(_room(n) for n in [*kept, "a", "b", "c"])))
    assert came == {"a", "b", "c"}
    assert went == {f"r{i}" for i in (1, 2, 3, 6, 7, 8)}
    assert removals == [(6, 8), (1, 3)]  # two runs, from the bottom
    assert inserts == [(4, 6)]  # one block
    assert model.names == [*kept, "a", "b", "c"]
    chosen = [proxy.data(i, RoomRole).name for i in selection.selectedIndexes()]
    assert chosen == ["r5"]


def test_fresh_participant_counts_are_not_undone_by_an_older_listing(model: RoomsModel) -> None:
    model.apply(_snapshot(_room("r", people=0)))
    model.set_counts("r", Counts(2, 1, {}))
    model.apply(_snapshot(_room("r", people=0), at=NOW - 1))  # ListRooms lags
    assert (model.room("r").participants, model.room("r").publishers) == (2, 1)  # type: ignore[union-attr]
    model.apply(_snapshot(_room("r", people=3), at=NOW + 10))  # newer than the count
    assert model.room("r").participants == 3  # type: ignore[union-attr]


def test_a_disagreement_shows_once_it_has_lasted(model: RoomsModel) -> None:
    clock = [NOW]
    model.now = lambda: clock[0]
    model.disagreement_after = 10
    model.apply(_snapshot(_room("r", metadata=RecordingStatus.STARTED)))
    index = model.index(0, RECORDING)
    assert model.data(index) == "Not recording"  # a stop may be under way
    clock[0] += 11
    model.tick()
    assert model.data(index) == "⚠ Not recording"
    assert "metadata says STARTED" in model.data(index, 3)  # the tooltip says why
    model.apply(_snapshot(_room("r", metadata=RecordingStatus.STARTED,
                                egress=RecordingStatus.STARTED)))
    assert model.data(index) == "Recording"
    assert model.data(model.index(0, 7)) == "00:00:16"


def test_without_egress_nothing_is_called_a_disagreement(model: RoomsModel) -> None:
    model.disagreement_after = 0
    model.apply(RoomsSnapshot([_room("r", metadata=RecordingStatus.STARTED)], False,
                              "no egress service", NOW))
    assert model.data(model.index(0, RECORDING)) == "unknown"
    assert model.data(model.index(0, 6)) == "STARTED"


def test_sorting_is_the_models_own_and_new_rooms_take_their_place(
    model: RoomsModel, qtbot: QtBot,
) -> None:
    proxy = rooms_proxy(model)
    model.apply(_snapshot(_room("b", people=1), _room("a", people=5), _room("c", people=3)))
    selection = QItemSelectionModel(proxy)
    proxy.sort(2, Qt.SortOrder.DescendingOrder)  # participants, most first
    shown = lambda: [proxy.data(proxy.index(r, 0)) for r in range(proxy.rowCount())]  # noqa: E731
    assert shown() == ["a", "c", "b"]
    selection.select(proxy.index(1, 0), QItemSelectionModel.SelectionFlag.Select)
    model.apply(_snapshot(_room("b", people=1), _room("a", people=5), _room("c", people=3),
                          _room("d", people=4)))
    assert shown() == ["a", "d", "c", "b"]
    assert [proxy.data(i) for i in selection.selectedIndexes()] == ["c"]
    proxy.setFilterFixedString("C")
    assert shown() == ["c"]
