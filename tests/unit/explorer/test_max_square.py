"""The max square: the side of the largest fully visited square block of tiles."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ridelines.explorer import ExplorerAccumulator, Square, feature_tiles, max_square
from ridelines.features import fit_to_feature

RIDES_DIR = Path(__file__).resolve().parents[2] / "data" / "fit" / "sports-lib" / "rides" / "fit"


def block(x: int, y: int, size: int) -> set[tuple[int, int]]:
    return {(x + i, y + j) for i in range(size) for j in range(size)}


def brute_force_side(tiles: set[tuple[int, int]]) -> int:
    """Try every tile as a top-left corner and grow the square while it stays full."""
    best = 0
    for x, y in tiles:
        size = 1
        while block(x, y, size + 1) <= tiles:
            size += 1
        best = max(best, size)
    return best


def test_no_tiles_no_square() -> None:
    assert max_square([]) is None


def test_one_tile_is_a_square_of_one() -> None:
    assert max_square([(5, 9)]) == Square(5, 9, 1)


def test_a_block_with_stragglers() -> None:
    tiles = block(100, 200, 3) | {(99, 200), (103, 202), (100, 203), (110, 110)}
    assert max_square(tiles) == Square(100, 200, 3)


def test_a_hole_breaks_the_block() -> None:
    tiles = block(0, 0, 4) - {(1, 2)}
    square = max_square(tiles)
    assert square is not None and square.size == 2
    assert block(square.x, square.y, square.size) <= tiles


def test_a_long_strip_is_only_as_square_as_it_is_wide() -> None:
    tiles = {(x, y) for x in range(50) for y in range(2)}
    assert max_square(tiles) == Square(0, 0, 2)


def test_rows_and_columns_meeting_at_a_corner_are_no_square() -> None:
    tiles = {(x, 10) for x in range(10)} | {(0, y) for y in range(10)}
    assert max_square(tiles) == Square(0, 0, 1)  # of equal squares, the first row by row


@settings(max_examples=200, deadline=None)
@given(st.sets(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=80))
def test_matches_a_brute_force_search(tiles: set[tuple[int, int]]) -> None:
    square = max_square(tiles)
    if not tiles:
        assert square is None
        return
    assert square is not None
    assert square.size == brute_force_side(tiles)
    assert block(square.x, square.y, square.size) <= tiles  # the square it names is really full


def test_real_rides_around_one_town() -> None:
    layer = ExplorerAccumulator()
    union: set[tuple[int, int]] = set()
    for path in sorted(RIDES_DIR.glob("*.fit")):
        feature = fit_to_feature(path.read_bytes(), source=str(path))
        assert feature is not None
        layer.add(feature)
        union |= feature_tiles(feature)
    document = layer.document()
    square = document["max_square"]
    assert square["size"] == brute_force_side(union) >= 3
    assert block(square["x"], square["y"], square["size"]) <= union
