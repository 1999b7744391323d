"""The room view: tiles re-flow, names and states show, frames are painted."""

from __future__ import annotations

import pytest
from livekit import rtc
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from recconsole.ui.room_view import RoomView
from recconsole.ui.video_tile import VideoTile

pytestmark = pytest.mark.gui


def _solid(width: int, height: int, y: int, u: int, v: int) -> rtc.VideoFrame:
    cw, ch = (width + 1) // 2, (height + 1) // 2
    data = bytes([y]) * (width * height) + bytes([u]) * (cw * ch) + bytes([v]) * (cw * ch)
    return rtc.VideoFrame(width, height, rtc.VideoBufferType.I420, data)


@pytest.fixture
def view(qtbot: QtBot) -> RoomView:
    room = RoomView()
    qtbot.addWidget(room)
    room.resize(900, 600)
    room.show()
    qtbot.waitExposed(room)
    return room


def _positions(view: RoomView) -> dict[str, tuple[int, int]]:
    grid = view._grid
    out = {}
    for sid, tile in view.tiles.items():
        row, column, _, _ = grid.getItemPosition(grid.indexOf(tile))
        out[sid] = (row, column)
    return out


def test_tiles_reflow_as_videos_come_and_go(view: RoomView) -> None:
    for i in range(5):
        view.add_participant(f"p{i}", f"Person {i}")
        view.add_video(f"TR_{i}", f"p{i}")
    assert view.columns == 3
    assert _positions(view) == {"TR_0": (0, 0), "TR_1": (0, 1), "TR_2": (0, 2),
                                "TR_3": (1, 0), "TR_4": (1, 1)}
    view.remove_participant("p1")
    view.remove_video("TR_4")
    assert view.columns == 2
    assert _positions(view) == {"TR_0": (0, 0), "TR_2": (0, 1), "TR_3": (1, 0)}
    assert [view.tiles[s].name for s in ("TR_0", "TR_2", "TR_3")] == [
        "Person 0", "Person 2", "Person 3"]


def test_the_list_says_what_each_person_publishes_and_what_is_muted(view: RoomView) -> None:
    view.add_participant("a", "Alice")
    view.add_participant("b", "Bob")
    view.add_participant("c", "Carol")
    view.add_video("TR_a", "a")
    view.add_audio("TR_a2", "a")
    view.add_audio("TR_b", "b")
    names = [view.people.item(i).text() for i in range(view.people.count())]
    assert names == ["Alice  (video, audio)", "Bob  (audio only)", "Carol  (nothing published)"]
    view.set_track_muted("a", "TR_a2", True)
    view.set_track_muted("b", "TR_b", True)
    names = [view.people.item(i).text() for i in range(view.people.count())]
    assert names[:2] == ["Alice  (video, audio muted)", "Bob  (audio only, muted)"]


def test_moderation_buttons_ask_for_the_selected_person(view: RoomView, qtbot: QtBot) -> None:
    view.add_participant("a", "Alice")
    view.add_video("TR_a", "a")
    view.add_audio("TR_a2", "a")
    assert not view.remove_button.isEnabled()
    item = view.person_item("a")
    assert item is not None
    item.setSelected(True)
    assert view.mute_microphone_button.isEnabled()
    assert view.mute_camera_button.isEnabled()
    with qtbot.waitSignal(view.muteRequested) as muted:
        view.mute_camera_button.click()
    assert muted.args == ["a", "camera"]
    with qtbot.waitSignal(view.removeRequested) as removed:
        view.remove_button.click()
    assert removed.args == ["a"]
    view.set_track_muted("a", "TR_a", True)  # the camera went off: nothing left to mute there
    assert view.selected_person() == "a"
    assert not view.mute_camera_button.isEnabled()
    assert view.mute_microphone_button.isEnabled()


def test_a_frame_is_painted_in_its_tile(view: RoomView, qtbot: QtBot) -> None:
    view.add_participant("a", "Alice")
    tile = view.add_video("TR_a", "a")
    view.show_frame("TR_a", _solid(320, 180, 81, 90, 240))  # red
    assert tile.frames_received == 1
    qtbot.waitUntil(lambda: tile.frames_shown > 0, timeout=2000)
    image = tile.grab().toImage()
    centre = QColor(image.pixel(image.width() // 2, image.height() // 2))
    assert centre.red() > 200
    assert centre.green() < 60
    assert centre.blue() < 60
    view.show_frame("TR_unknown", _solid(320, 180, 81, 90, 240))  # ignored, no error


@pytest.mark.parametrize(("width", "height"), [(638, 361), (637, 359), (3, 3)])
def test_odd_sized_frames_fill_their_place_in_the_right_colour(
    view: RoomView, qtbot: QtBot, width: int, height: int,
) -> None:
    view.add_participant("a", "Alice")
    tile = view.add_video("TR_a", "a")
    view.show_frame("TR_a", _solid(width, height, 145, 54, 34))  # green
    qtbot.waitUntil(lambda: tile.frames_shown > 0, timeout=2000)
    image = tile.grab().toImage()
    fit = tile._fit(width, height)
    for x, y in ((fit.left() + 2, fit.top() + 2), (fit.right() - 2, fit.bottom() - 2),
                 (fit.center().x(), fit.center().y())):
        colour = QColor(image.pixel(int(x), int(y)))
        assert (colour.red() < 60, colour.green() > 200, colour.blue() < 60) == (
            True, True, True), (x, y, colour.getRgb())


def test_muted_and_speaking_show_on_the_tile(view: RoomView, qtbot: QtBot) -> None:
    view.add_participant("a", "Alice")
    tile: VideoTile = view.add_video("TR_a", "a")
    view.set_muted("a", True)
    tile.show_frame(_solid(64, 36, 200, 128, 128))  # a light grey frame
    qtbot.waitUntil(lambda: tile.frames_received == 1)
    middle = (tile.width() // 2, tile.height() // 2)
    quiet = QColor(tile.grab().toImage().pixel(*middle))
    view.set_speaking(["a"])
    assert (tile.muted, tile.speaking) == (True, True)
    image = tile.grab().toImage()
    assert QColor(image.pixel(1, tile.height() // 2)).green() > 150  # the speaking border
    assert QColor(image.pixel(*middle)) == quiet  # an outline only: the video is not dimmed
    view.set_speaking([])
    assert tile.speaking is False


def _sight(view: RoomView, qtbot: QtBot) -> dict[str, int]:
    """What the view says is in sight, once it has said it (after layouts settle)."""
    qtbot.waitUntil(lambda: not view._sight_timer.isActive(), timeout=2000)
    return dict(view.in_sight)


def test_a_large_room_shows_pages_and_says_only_the_page_is_in_sight(
    view: RoomView, qtbot: QtBot,
) -> None:
    shown: dict[str, int] = {}
    hidden: list[str] = []
    view.videoShown.connect(lambda sid, height: shown.__setitem__(sid, height))
    view.videoHidden.connect(hidden.append)
    sids = [f"TR_{i:02}" for i in range(25)]
    for i, sid in enumerate(sids):
        view.add_participant(f"p{i}", f"Person {i}")
        view.add_video(sid, f"p{i}")
    assert (view.pages, view.page, view.columns) == (3, 0, 3)
    assert view._pager.isVisible()
    assert view.page_label.text() == "Page 1 of 3"
    assert sorted(_sight(view, qtbot)) == sids[:9]
    assert sorted(shown) == sids[:9]
    assert sorted(hidden) == sids[9:]
    assert all(0 < height < view.height() for height in shown.values())
    assert [sid for sid, tile in view.tiles.items() if tile.isVisible()] == sids[:9]

    shown.clear()
    hidden.clear()
    view.next_page_button.click()
    assert sorted(_sight(view, qtbot)) == sids[9:18]
    assert sorted(shown) == sids[9:18]
    assert sorted(hidden) == sids[:9]
    view.show_page(7)  # past the end: the last page, with the last seven
    assert view.page == 2
    assert sorted(_sight(view, qtbot)) == sids[18:]
    assert not view.next_page_button.isEnabled()

    for sid in sids[18:]:  # the last page empties: back to page 2 of 2
        view.remove_video(sid)
    assert (view.page, view.pages) == (1, 2)
    assert sorted(_sight(view, qtbot)) == sids[9:18]
    for sid in sids[1:18]:  # one left: no pages, and its tile is bigger than in the grid
        view.remove_video(sid)
    assert not view._pager.isVisible()
    assert _sight(view, qtbot)[sids[0]] > shown[sids[9]]


def test_a_smaller_tile_asks_for_fewer_pixels(view: RoomView, qtbot: QtBot) -> None:
    view.add_participant("a", "Alice")
    view.add_video("TR_a", "a")
    big = _sight(view, qtbot)["TR_a"]
    view.resize(450, 300)
    qtbot.waitUntil(lambda: view.in_sight.get("TR_a", big) < big, timeout=2000)
    assert view.in_sight["TR_a"] <= view.tiles["TR_a"].height()


def test_videos_are_out_of_sight_while_the_window_is_minimised_or_the_view_hidden(
    view: RoomView, qtbot: QtBot,
) -> None:
    for i in range(2):
        view.add_participant(f"p{i}", f"Person {i}")
        view.add_video(f"TR_{i}", f"p{i}")
    assert sorted(_sight(view, qtbot)) == ["TR_0", "TR_1"]
    with qtbot.waitSignals([view.videoHidden, view.videoHidden]):
        view.showMinimized()
    assert _sight(view, qtbot) == {}
    with qtbot.waitSignals([view.videoShown, view.videoShown]):
        view.showNormal()
    assert sorted(_sight(view, qtbot)) == ["TR_0", "TR_1"]
    view.hide()
    assert _sight(view, qtbot) == {}
    view.show()
    assert sorted(_sight(view, qtbot)) == ["TR_0", "TR_1"]


def test_the_name_label_is_drawn_and_follows_the_mute(view: RoomView, qtbot: QtBot) -> None:
    view.add_participant("a", "Alice")
    tile = view.add_video("TR_a", "a")
    tile.show_frame(_solid(64, 36, 16, 128, 128))  # black: the white name stands out
    qtbot.waitUntil(lambda: tile.frames_shown > 0)
    width = tile._label_pixmap().width()

    def white_in_label() -> int:
        image = tile.grab().toImage()
        return sum(QColor(image.pixel(x, y)).lightness() > 200
                   for x in range(8, 8 + width) for y in range(tile.height() - 30,
                                                               tile.height() - 8))

    assert white_in_label() > 20
    view.set_muted("a", True)
    assert tile._label_pixmap().width() > width  # "Alice  · muted": drawn again, wider
