"""``ridelines convert FILE.fit [-o OUT.geojson]``: one FIT file to one GeoJSON Feature.

Exit codes: 0 with the Feature on stdout (or in ``OUT``); 2 with one line on stderr naming the
file and the reason for bad input (unreadable, not FIT, corrupt, truncated beyond salvage) and
for a file **without a GPS track** (indoor ride, pool swim, course or monitoring file): there is
no Feature to print, and DESIGN §3.3 lists "no GPS" with the bad inputs. Plain FIT or gzip.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path
from typing import Any

from ridelines.errors import InvalidInput
from ridelines.features import decode_track, feature_from_track, id_from_source


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="one FIT file to a GeoJSON Feature",
        description="One FIT file (plain or gzip) to a GeoJSON Feature on stdout. Bad input, or a file "
        "without a GPS track, exits 2 with one line on stderr.",
    )
    parser.add_argument("file", type=Path, help="FIT file (plain or gzip)")
    parser.add_argument("-o", "--output", type=Path, help="write the Feature here instead of stdout")


def run(args: argparse.Namespace) -> int:
    # One long ride is ~1M small acyclic objects (samples, points, coordinates): the cyclic GC
    # would rescan them again and again (~40% of the decode) and can never free any of them.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _convert(args)
    finally:
        if enabled:
            gc.enable()


def _convert(args: argparse.Namespace) -> int:
    path: Path = args.file
    data = read_input(path)
    decoded = decode_track(data, str(path))
    if not decoded.has_track:
        raise InvalidInput(f"{path}: {decoded.no_track_reason}")
    feature = feature_from_track(decoded, None, default_id=id_from_source(data, str(path)))
    text = json.dumps(feature, separators=(",", ":"))
    if args.output:
        args.output.write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


def read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise InvalidInput(f"{path}: is a directory, not a FIT file") from None
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror or exc})") from None
