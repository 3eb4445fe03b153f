"""Human names for FIT enum values (sport, sub_sport, manufacturer), from fitdecode's profile."""

from __future__ import annotations

from fitdecode import profile as _profile


def _enum(name: str) -> dict[int, str]:
    return dict(_profile.FIELD_TYPES[name].enum)


SPORTS = _enum("sport")
SUB_SPORTS = _enum("sub_sport")
MANUFACTURERS = _enum("manufacturer")
FILE_TYPES = {**_enum("file"), 8: "locations"}  # 8 is missing from fitdecode 0.11's profile
