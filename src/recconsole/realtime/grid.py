"""The room's video tiles composed into one I420 picture with numpy, names on tiles.

A recording's picture is the grid a moderator sees: one tile per video track, each
picture scaled to fit its tile (nearest neighbour, aspect kept), the participant's
name in its corner. Everything is drawn straight in I420 (the encoder's format), so
no colour conversion is ever made. Names are drawn with a small built-in 5x7 font
(capitals, digits, a few signs; anything else shows as ``?``): no font library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

BACKGROUND = (24, 128, 128)  # Y, U, V of the dark grey behind and between tiles
GAP = 4  # pixels between tiles (even, so chroma stays aligned)
LABEL_SCALE = 2  # each font pixel drawn as 2x2

_FONT_ROWS: dict[str, tuple[str, ...]] = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    " ": (".....",) * 7,
    "-": (".....", ".....", ".....", "#####", ".....", ".....", "....."),
    "_": (".....", ".....", ".....", ".....", ".....", ".....", "#####"),
    ".": (".....", ".....", ".....", ".....", ".....", ".##..", ".##.."),
    "'": ("..#..", "..#..", ".#...", ".....", ".....", ".....", "....."),
    "(": ("...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."),
    ")": (".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."),
    "@": (".###.", "#...#", "#.###", "#.#.#", "#.###", "#....", ".###."),
    "?": (".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."),
}
_FONT = {ch: np.array([[c == "#" for c in row] for row in rows], bool)
         for ch, rows in _FONT_ROWS.items()}


@lru_cache(maxsize=256)
def label_mask(text: str, max_chars: int = 40) -> np.ndarray:
    """``text`` in the built-in font as a boolean mask (one blank column between glyphs)."""
    glyphs = [_FONT.get(ch, _FONT["?"]) for ch in text.upper()[:max_chars]] or [_FONT[" "]]
    spaced = [np.pad(g, ((0, 0), (0, 1))) for g in glyphs]
    mask = np.concatenate(spaced, axis=1)
    return np.kron(mask, np.ones((LABEL_SCALE, LABEL_SCALE), bool)).astype(bool)


@dataclass(frozen=True)
class Tile:
    """Where one picture goes: its top-left corner and size, all even."""

    x: int
    y: int
    width: int
    height: int


def grid_tiles(count: int, width: int, height: int) -> list[Tile]:
    """``count`` equal tiles in a near-square grid filling ``width``x``height``."""
    if count <= 0:
        return []
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    tile_w = ((width - GAP * (cols - 1)) // cols) & ~1
    tile_h = ((height - GAP * (rows - 1)) // rows) & ~1
    # The grid centred: a last, shorter row is centred too.
    top = ((height - rows * tile_h - (rows - 1) * GAP) // 2) & ~1
    tiles = []
    for i in range(count):
        row, col = divmod(i, cols)
        in_row = min(cols, count - row * cols)
        left = ((width - in_row * tile_w - (in_row - 1) * GAP) // 2) & ~1
        tiles.append(Tile(left + col * (tile_w + GAP), top + row * (tile_h + GAP),
                          tile_w, tile_h))
    return tiles


@lru_cache(maxsize=64)
def _fit(src_w: int, src_h: int, tile_w: int, tile_h: int) -> tuple[int, int, np.ndarray,
                                                                     np.ndarray]:
    """The scaled picture's size inside a tile and its source rows and columns (luma)."""
    scale = min(tile_w / src_w, tile_h / src_h)
    out_w = max(2, int(src_w * scale) & ~1)
    out_h = max(2, int(src_h * scale) & ~1)
    rows = np.minimum((np.arange(out_h) + 0.5) * src_h / out_h, src_h - 1).astype(np.intp)
    cols = np.minimum((np.arange(out_w) + 0.5) * src_w / out_w, src_w - 1).astype(np.intp)
    return out_w, out_h, rows, cols


class I420Canvas:
    """One output picture, ``width``x``height`` (even), drawn plane by plane."""

    def __init__(self, width: int, height: int) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"the picture size must be even, not {width}x{height}")
        self.width, self.height = width, height
        # The layout PyAV's yuv420p from_ndarray takes: Y rows, then U, then V.
        self.buffer = np.empty((height * 3 // 2, width), np.uint8)
        quarter = width * height // 4
        flat = self.buffer.reshape(-1)
        self.y = self.buffer[:height]
        self.u = flat[width * height:width * height + quarter].reshape(height // 2, width // 2)
        self.v = flat[width * height + quarter:].reshape(height // 2, width // 2)

    def clear(self) -> None:
        self.y[:] = BACKGROUND[0]
        self.u[:] = BACKGROUND[1]
        self.v[:] = BACKGROUND[2]

    def draw_i420(self, tile: Tile, data: memoryview | bytes, src_w: int, src_h: int) -> None:
        """Scale an I420 picture (planes packed, as the SDK gives them) into ``tile``."""
        cw, ch = (src_w + 1) // 2, (src_h + 1) // 2
        raw = np.frombuffer(data, np.uint8)
        if raw.size < src_w * src_h + 2 * cw * ch:
            return  # not a whole picture: leave the tile empty rather than guess
        y = raw[:src_w * src_h].reshape(src_h, src_w)
        u = raw[src_w * src_h:src_w * src_h + cw * ch].reshape(ch, cw)
        v = raw[src_w * src_h + cw * ch:src_w * src_h + 2 * cw * ch].reshape(ch, cw)
        out_w, out_h, rows, cols = _fit(src_w, src_h, tile.width, tile.height)
        x0 = (tile.x + (tile.width - out_w) // 2) & ~1
        y0 = (tile.y + (tile.height - out_h) // 2) & ~1
        # Rows then columns: two takes are several times faster than one 2-D index.
        self.y[y0:y0 + out_h, x0:x0 + out_w] = y.take(rows, axis=0).take(cols, axis=1)
        crows, ccols = rows[::2] // 2, cols[::2] // 2
        cy, cx = y0 // 2, x0 // 2
        self.u[cy:cy + out_h // 2, cx:cx + out_w // 2] = u.take(crows, axis=0).take(ccols, axis=1)
        self.v[cy:cy + out_h // 2, cx:cx + out_w // 2] = v.take(crows, axis=0).take(ccols, axis=1)

    def draw_label(self, tile: Tile, text: str) -> None:
        """The name in white on a dark band at the tile's bottom-left corner."""
        mask = label_mask(text)
        pad = 2 * LABEL_SCALE
        room_w = tile.width - 2 * pad
        if room_w <= 0:
            return
        mask = mask[:, :room_w]
        h, w = mask.shape
        band_h, band_w = (h + 2 * pad + 1) & ~1, (w + 2 * pad + 1) & ~1
        y0 = max(tile.y, tile.y + tile.height - band_h)
        x0 = tile.x
        band_h, band_w = min(band_h, tile.height), min(band_w, tile.width)
        self.y[y0:y0 + band_h, x0:x0 + band_w] //= 3  # darken what is under the band
        self.u[y0 // 2:(y0 + band_h) // 2, x0 // 2:(x0 + band_w) // 2] = 128
        self.v[y0 // 2:(y0 + band_h) // 2, x0 // 2:(x0 + band_w) // 2] = 128
        area = self.y[y0 + pad:y0 + pad + h, x0 + pad:x0 + pad + w]
        area[mask[:area.shape[0], :area.shape[1]]] = 235
