"""``ridelines tiles PATHS... -o OUT.pmtiles``: FIT files on disk straight to PMTiles.

PATHS are files or directories (searched recursively for ``*.fit`` and ``*.fit.gz``, any case).
Features stream from the decoder into Tippecanoe; a progress bar runs on stderr.

Bad files do not stop the build: each gets one warning line on stderr (file and reason) and is
skipped, like files without a GPS track (counted in the summary). The exit code is 0 when the
PMTiles file was written - even with zero tracks, which is a valid, empty map - and 2 when there
was nothing usable: a PATH that does not exist, no FIT file found, or every file bad.
Virtual rides are left out unless ``--include-virtual`` or ``RIDELINES_INCLUDE_VIRTUAL=1``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ridelines import settings
from ridelines.errors import InvalidInput
from ridelines.features import ActivityMeta, decode_track, feature_from_track
from ridelines.privacy import apply_privacy
from ridelines.tiling import build_pmtiles
from ridelines_local.commands.convert import read_input
from ridelines_local.privacy_options import add_privacy_arguments, privacy_from_args

FIT_SUFFIXES = (".fit", ".fit.gz")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tiles",
        help="FIT files on disk straight to PMTiles",
        description="FIT files (folders are searched for *.fit and *.fit.gz) straight to one PMTiles "
        "map. Bad files are skipped with a one-line warning; exit 2 only when nothing was usable.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="FIT files or directories")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the PMTiles file to write")
    parser.add_argument(
        "--include-virtual",
        action="store_true",
        default=None,
        help="also draw virtual rides (Zwift...); default from RIDELINES_INCLUDE_VIRTUAL",
    )
    add_privacy_arguments(parser)


@dataclass
class Tally:
    files: int = 0
    tracks: int = 0
    no_track: int = 0
    bad: int = 0


def is_fit_name(path: Path) -> bool:
    return path.name.lower().endswith(FIT_SUFFIXES)


def find_fit_files(paths: list[Path]) -> list[tuple[Path, str]]:
    """(file, activity id) pairs; the id is the path below the given directory, without suffix."""
    found: list[tuple[Path, str]] = []
    for root in paths:
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file() and is_fit_name(p)):
                found.append((path, _strip_suffix(path.relative_to(root).as_posix())))
        elif root.exists():
            found.append((root, _strip_suffix(root.name)))
        else:
            raise InvalidInput(f"{root}: no such file or directory")
    return found


def _strip_suffix(name: str) -> str:
    lower = name.lower()
    for suffix in FIT_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def run(args: argparse.Namespace) -> int:
    privacy = privacy_from_args(args)  # bad settings exit 2 before any work
    files = find_fit_files(args.paths)
    if not files:
        raise InvalidInput(f"no FIT files (*.fit, *.fit.gz) in {', '.join(map(str, args.paths))}")
    include_virtual = args.include_virtual
    if include_virtual is None:
        include_virtual = settings.flag(settings.INCLUDE_VIRTUAL)
    tally = Tally()
    bar = tqdm(total=len(files), unit="file", file=sys.stderr, desc="tiles", dynamic_ncols=True)

    def features() -> Iterator[dict]:
        seen: set[str] = set()
        for path, activity_id in files:
            bar.update(1)
            tally.files += 1
            try:
                decoded = decode_track(read_input(path), str(path))
            except InvalidInput as exc:
                tally.bad += 1
                bar.write(f"ridelines tiles: skipped {exc.message}", file=sys.stderr)
                continue
            if not decoded.has_track:
                tally.no_track += 1
                continue
            tally.tracks += 1
            unique = activity_id if activity_id not in seen else f"{activity_id}#{tally.files}"
            seen.add(unique)
            yield feature_from_track(decoded, ActivityMeta(id=unique), default_id=unique)

    try:
        result = build_pmtiles(
            apply_privacy(features(), privacy), args.output, include_virtual=include_virtual
        )
    finally:
        bar.close()
    if tally.bad == tally.files:
        args.output.unlink(missing_ok=True)
        raise InvalidInput(f"no usable FIT file: all {tally.files} were bad")
    virtual = (
        f", {result.features_skipped_virtual} virtual left out" if result.features_skipped_virtual else ""
    )
    print(
        f"ridelines tiles: {result.features_written} activities -> {result.path} "
        f"({tally.files} files: {tally.no_track} without GPS track, {tally.bad} bad{virtual})",
        file=sys.stderr,
    )
    return 0
