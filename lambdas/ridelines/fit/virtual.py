"""Is this a virtual ride whose GPS track is synthetic (Zwift, MyWhoosh, TrainingPeaks Virtual...)?

Such tracks draw Watopia in the Pacific, or a real city the rider never rode through, so they
stay off the map by default (``RIDELINES_INCLUDE_VIRTUAL`` / ``include_virtual`` puts them back).

Evidence, strongest first:

1. intervals.icu's activity: ``virtual`` given explicitly; type ``VirtualRide``/``VirtualRun``/...;
   ``trainer`` set (a trainer ride that carries positions got them from a simulator).
2. The FIT file: sub_sport ``virtual_activity``; sub_sport ``indoor_cycling``/``spin``/
   ``treadmill``/``indoor_running`` *with* positions (Onelap and others); a file written by a
   virtual-riding app (manufacturer Zwift, MyWhoosh, VirtualTraining, Bkool); positions inside a
   known fictional world (Zwift's Watopia, Makuri and France islands, TrainingPeaks Virtual's
   ocean maps), which all sit in open ocean.

Not detectable from the FIT alone: old Zwift files (2015) written as manufacturer
``development`` on real-world maps (Richmond, London); intervals.icu types those VirtualRide.
"""

from __future__ import annotations

from collections.abc import Iterable

from ridelines.fit import FitActivity

VIRTUAL_TYPES = frozenset({"VirtualRide", "VirtualRun", "VirtualRow", "VirtualSki"})
VIRTUAL_SUB_SPORTS = frozenset({58})  # virtual_activity
INDOOR_SUB_SPORTS = frozenset({1, 5, 6, 45})  # treadmill, spin, indoor_cycling, indoor_running
VIRTUAL_MANUFACTURERS = frozenset({260, 331, 284, 67})  # zwift, mywhoosh, virtualtraining, bkool
# (min_lon, min_lat, max_lon, max_lat) of fictional worlds placed in open ocean.
VIRTUAL_WORLDS: tuple[tuple[float, float, float, float], ...] = (
    (166.80, -11.80, 167.10, -11.55),  # Zwift Watopia
    (165.70, -10.90, 165.90, -10.70),  # Zwift Makuri Islands
    (166.10, -21.80, 166.30, -21.60),  # Zwift France
    (149.40, -1.60, 149.90, -1.20),  # TrainingPeaks Virtual
)


def sub_sports(activity: FitActivity) -> set[int]:
    subs = {s for _, s in activity.sports if s is not None}
    subs.update(s.sub_sport for s in activity.sessions if s.sub_sport is not None)
    return subs


def in_virtual_world(lon: float, lat: float) -> bool:
    return any(x0 <= lon <= x1 and y0 <= lat <= y1 for x0, y0, x1, y1 in VIRTUAL_WORLDS)


def is_virtual_fit(activity: FitActivity, first_points: Iterable[tuple[float, float]]) -> bool:
    subs = sub_sports(activity)
    if subs & VIRTUAL_SUB_SPORTS:
        return True
    if activity.samples and subs & INDOOR_SUB_SPORTS:
        return True
    if activity.manufacturer in VIRTUAL_MANUFACTURERS:
        return True
    return any(in_virtual_world(lon, lat) for lon, lat in first_points)


def is_trainer_fit(activity: FitActivity) -> bool:
    return bool(sub_sports(activity) & (INDOOR_SUB_SPORTS | VIRTUAL_SUB_SPORTS))
