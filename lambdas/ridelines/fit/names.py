"""Human names for FIT enum values (sport, sub_sport, manufacturer), from fitdecode's profile.

The tables load on first use (module ``__getattr__``): fitdecode's profile costs tens of
milliseconds to import, and most conversions never need a name (``ridelines convert`` is a
short process).
"""

from __future__ import annotations

import functools
from typing import Any


def _enum(name: str) -> dict[int, str]:
    from fitdecode import profile

    return dict(profile.FIELD_TYPES[name].enum)


@functools.cache
def _tables() -> dict[str, dict[int, str]]:
    return {
        "SPORTS": _enum("sport"),
        "SUB_SPORTS": _enum("sub_sport"),
        "MANUFACTURERS": _enum("manufacturer"),
        "FILE_TYPES": {**_enum("file"), 8: "locations"},  # 8 is missing from fitdecode 0.11's profile
    }


def __getattr__(name: str) -> Any:
    tables = _tables() if name in ("SPORTS", "SUB_SPORTS", "MANUFACTURERS", "FILE_TYPES") else {}
    if name in tables:
        return tables[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
