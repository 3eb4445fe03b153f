"""``[--privacy-zone LAT,LON,RADIUS_M]... [--hide-ends METRES]`` for ``tiles`` and ``sync``.

The same settings and limits as ``PUT /api/user/privacy`` (:mod:`ridelines.privacy`). Each zone's
secret offset and radius jitter are derived from a seed file (``$RIDELINES_PRIVACY_SEED_FILE``,
default ``~/.config/ridelines/privacy-seed``, created with 32 random bytes on first use, mode
0600), so building the map again with the same zone cuts the same way: fresh random draws at every
run would let the published ends average out to the true centre. Keep the seed private; deleting
it gives every zone new offsets.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from ridelines.errors import InvalidInput
from ridelines.privacy import (
    InvalidPrivacy,
    StoredPrivacy,
    default_seed_file,
    load_or_create_seed,
    parse_privacy,
    seeded_offsets,
)


def add_privacy_arguments(parser: Any) -> None:
    group = parser.add_argument_group(
        "privacy (applied to the tiles only; the archive keeps the true tracks)"
    )
    group.add_argument(
        "--privacy-zone",
        action="append",
        default=[],
        metavar="LAT,LON,RADIUS_M",
        help="hide where rides start or end inside this circle (radius 100-2000 m; up to 10 zones)",
    )
    group.add_argument(
        "--hide-ends",
        default=None,
        metavar="METRES",
        help="also hide this many metres (0-2000) of every ride's start and end",
    )


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{what} must be a finite number")
    return value


def privacy_from_args(args: argparse.Namespace) -> StoredPrivacy | None:
    """The validated settings with their seeded offsets; None when no option was given."""
    zone_texts: list[str] = list(args.privacy_zone or [])
    if not zone_texts and args.hide_ends is None:
        return None
    zones = []
    for number, text in enumerate(zone_texts, start=1):
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 3:
            raise InvalidInput(f"--privacy-zone {text!r}: give LAT,LON,RADIUS_M (three numbers)")
        lat, lon, radius = (_number(p, f"--privacy-zone #{number}") for p in parts)
        zones.append({"lat": lat, "lon": lon, "radius_m": radius})
    hide_ends = 0.0 if args.hide_ends is None else _number(str(args.hide_ends), "--hide-ends")
    try:
        settings = parse_privacy({"zones": zones, "hide_ends_m": hide_ends})
    except InvalidPrivacy as exc:
        raise InvalidInput(_option_message(exc)) from None
    if not settings.zones:
        return StoredPrivacy(hide_ends_m=settings.hide_ends_m)
    return seeded_offsets(settings, load_or_create_seed(default_seed_file()))


def _option_message(exc: InvalidPrivacy) -> str:
    """The API's field path in the command line's words: zones[1].radius_m -> --privacy-zone #2."""
    field = exc.field
    rule = exc.message.split(": ", 1)[-1]
    if field.startswith("zones["):
        index = int(field[len("zones[") : field.index("]")])
        attribute = field.split(".", 1)[1] if "." in field else "zone"
        return f"--privacy-zone #{index + 1}: {attribute} {rule}"
    if field == "zones":
        return f"--privacy-zone: {rule}"
    if field == "hide_ends_m":
        return f"--hide-ends {rule}"
    return exc.message
