"""The expected outcome of every one of the 80 corpus files (tests/data/fit), through fit_to_feature's path.

``kept`` = records with a valid position (matches fitdecode's ``records_valid_pos`` in INDEX.tsv,
and GPSBabel's trkpt counts); ``points``/``segments`` = the track after segmentation (pauses, gaps,
jumps) and collapsing of consecutive identical positions. Rejections name the reason.

Deliberate outcomes worth knowing:
* truncated files keep what came before the break when it is a plausible track
  (``activity-unexpected-eof``, ``activity-settings-nodata``, ``nick``; ``lezyne`` whose corrupt
  tail reads as a message running past the end of the file - the same 804 points GPSBabel's
  recovery mode gets);
* ``activity-settings-corruptheader`` (bad chained header), CRC mismatches, the undefined local
  message of ``strava-android-app`` and the never-finalised ``empty-activities`` are rejected;
* course / locations / monitoring files are "no track" (not rides), as is ``big_activity``
  (generated: 99,998 fixes at one identical position, not a line);
* ``tpv_dev_fields`` decodes (its 0-byte developer fields are skipped) although fitdecode cannot.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from ridelines.errors import FitDecodeError
from ridelines.features import decode_track, fit_to_feature

CORPUS = Path(__file__).resolve().parents[2] / "data" / "fit"


@dataclass(frozen=True)
class Track:
    records: int
    kept: int
    points: int
    segments: int
    truncated: bool = False


@dataclass(frozen=True)
class NoTrack:
    reason: str
    records: int


@dataclass(frozen=True)
class Rejected:
    reason: str


EXPECTED: dict[str, Track | NoTrack | Rejected] = {
    "fit-file-faker/coros_20251118.fit": Track(records=7280, kept=7059, points=7059, segments=44),
    "fit-file-faker/fit_tool/activity_multiple_developer_index.fit": NoTrack(
        "no GPS positions", records=4555
    ),
    "fit-file-faker/fit_tool/palisade.fit": Track(records=2030, kept=2004, points=1828, segments=1),
    "fit-file-faker/karoo_20251119.fit": Track(records=8356, kept=8330, points=8287, segments=34),
    "fit-file-faker/mywhoosh_20260111.fit": Track(records=4118, kept=4118, points=4118, segments=1),
    "fit-file-faker/tpv_20251120.fit": Track(records=3699, kept=3699, points=3699, segments=1),
    "fit-file-faker/tpv_dev_fields_20260222.fit": Track(records=3400, kept=3400, points=3398, segments=1),
    "fit-file-faker/zwift_20250401.fit": Track(records=3691, kept=3691, points=3691, segments=1),
    "fit-file-faker/zwift_non_utf8_20260130.fit": Track(records=3646, kept=3646, points=3644, segments=1),
    "fitdecode/garmin-fr935-cr.fit": NoTrack("no GPS positions", records=7515),
    "fitparse-rs/hrv-activity.fit": NoTrack("no GPS positions", records=1072),
    "garmin-fit-javascript-sdk/Activity.fit": Track(records=3601, kept=3600, points=3600, segments=1),
    "garmin-fit-javascript-sdk/WithGearChangeData.fit": NoTrack("no GPS positions", records=1979),
    "gpsbabel/Lctns_Instinct.fit": NoTrack("not an activity (FIT file type: locations)", records=0),
    "gpsbabel/track/fit-sample.fit": Track(records=540, kept=533, points=533, segments=1),
    "gpsbabel/track/fitwrite-track.fit": NoTrack("not an activity (FIT file type: course)", records=0),
    "gpsbabel/track/garmin-edge-800.fit": Track(records=1286, kept=1286, points=1285, segments=8),
    "gpsbabel/track/garmin-forerunner-10.fit": Track(records=514, kept=514, points=514, segments=7),
    "gpsbabel/track/garmin-oregon-700.fit": Track(records=999, kept=997, points=996, segments=2),
    "gpsbabel/track/garmin-virb-ultra-30.fit": Track(records=210, kept=145, points=145, segments=1),
    "gpsbabel/track/garmin-vivosmart-hr.fit": NoTrack("no GPS positions", records=15),
    "gpsbabel/track/lezyne_super_gps-garmin_fit-sample-bad-endian.fit": Track(
        records=804, kept=804, points=778, segments=4, truncated=True
    ),
    "gpsbabel/track/wahoo-element-bolt.fit": Track(records=1101, kept=1101, points=1075, segments=2),
    "muktihari-fit/big_activity.fit": NoTrack("no GPS track (fewer than 2 usable positions)", records=99998),
    "muktihari-fit/chained_Activity_activity_poolswim.fit": Track(
        records=3625, kept=3600, points=3600, segments=1
    ),
    "muktihari-fit/from_garmin_forums/triathlon_summary_first.fit": Track(
        records=4043, kept=4041, points=4039, segments=1
    ),
    "muktihari-fit/from_garmin_forums/triathlon_summary_last.fit": Track(
        records=4043, kept=4041, points=4039, segments=1
    ),
    "muktihari-fit/from_official_sdk/activity_truncated.fit": NoTrack("no GPS positions", records=14),
    "muktihari-fit/valid_only_contain_fileid.fit": NoTrack("no GPS positions", records=1),
    "python-fitparse/20170518-191602-1740899583.fit": NoTrack("no GPS positions", records=1641),
    "python-fitparse/2019-02-17-062644-ELEMNT-297E-195-0.fit": Track(
        records=13471, kept=13348, points=12774, segments=43
    ),
    "python-fitparse/Edge810-Vector-2013-08-16-15-35-10.fit": Track(
        records=4700, kept=4700, points=4659, segments=1
    ),
    "python-fitparse/MonitoringFile.fit": NoTrack("not an activity (FIT file type: monitoring_b)", records=0),
    "python-fitparse/activity-activity-filecrc.fit": Rejected("CRC mismatch"),
    "python-fitparse/activity-filecrc.fit": Rejected("CRC mismatch"),
    "python-fitparse/activity-large-fenxi2-multisport.fit": Track(
        records=24239, kept=24235, points=24227, segments=1
    ),
    "python-fitparse/activity-settings-corruptheader.fit": Rejected("not a FIT file: bad header"),
    "python-fitparse/activity-settings-nodata.fit": Track(
        records=14, kept=14, points=11, segments=1, truncated=True
    ),
    "python-fitparse/activity-settings.fit": Track(records=14, kept=14, points=11, segments=1),
    "python-fitparse/activity-unexpected-eof.fit": Track(
        records=14, kept=14, points=11, segments=1, truncated=True
    ),
    "python-fitparse/antfs-dump.63.fit": NoTrack("no GPS positions", records=686),
    "python-fitparse/compressed-speed-distance.fit": NoTrack("no GPS positions", records=755),
    "python-fitparse/coros-pace-2-cycling-misaligned-fields.fit": Track(
        records=11272, kept=10305, points=10304, segments=6
    ),
    "python-fitparse/developer-types-sample.fit": Track(records=3424, kept=3424, points=3424, segments=1),
    "python-fitparse/elemnt-bolt-no-application-id-inside-developer-data-id.fit": Track(
        records=132, kept=131, points=131, segments=1
    ),
    "python-fitparse/event_timestamp.fit": NoTrack("no GPS positions", records=4376),
    "python-fitparse/garmin-edge-500-activity.fit": Track(
        records=10686, kept=10677, points=10675, segments=47
    ),
    "python-fitparse/garmin-edge-820-bike.fit": Track(records=15, kept=15, points=15, segments=1),
    "python-fitparse/garmin-fenix-5-bike.fit": Track(records=19, kept=19, points=19, segments=1),
    "python-fitparse/nick.fit": Track(records=14391, kept=14391, points=14370, segments=9, truncated=True),
    "python-fitparse/null_compressed_speed_dist.fit": Track(records=1808, kept=1808, points=1805, segments=1),
    "python-fitparse/sample-activity-indoor-trainer.fit": NoTrack("no GPS positions", records=2263),
    "python-fitparse/sample-activity.fit": Track(records=3098, kept=2965, points=2964, segments=27),
    "python-fitparse/sample_mulitple_header.fit": Track(records=1773, kept=1462, points=1452, segments=1),
    "python-fitparse/strava-android-app-201.10-b1218918.fit": Rejected(
        "local message 11 used before its definition"
    ),
    "sports-lib/others/27-days-activity.fit": Track(records=3699, kept=3699, points=3694, segments=17),
    "sports-lib/others/31-days-activity.fit": Track(records=497, kept=494, points=493, segments=8),
    "sports-lib/others/broken-dates.fit": NoTrack("no GPS positions", records=3279),
    "sports-lib/others/broken-start-latlng.fit": Track(records=6864, kept=6821, points=6803, segments=1),
    "sports-lib/others/empty-activities.fit": Rejected("FIT header declares no data but 86004 bytes follow"),
    "sports-lib/others/empty-sessions.fit": Rejected("empty file"),
    "sports-lib/others/inverted-times.fit": Track(records=885, kept=885, points=885, segments=3),
    "sports-lib/rides/fit/3939576645.fit": Track(records=2547, kept=2547, points=2547, segments=9),
    "sports-lib/rides/fit/614953343.fit": Track(records=10602, kept=10602, points=10589, segments=59),
    "sports-lib/rides/fit/6783622686.fit": Track(records=18514, kept=18514, points=18512, segments=14),
    "sports-lib/rides/fit/7432332116.fit": Track(records=10063, kept=10063, points=9816, segments=7),
    "sports-lib/rides/fit/7739869618.fit": Track(records=8921, kept=8828, points=8827, segments=6),
    "sports-lib/rides/fit/828989227.fit": Track(records=13134, kept=13131, points=13127, segments=25),
    "sports-lib/rides/fit/971150603.fit": Track(records=3806, kept=3806, points=3794, segments=3),
    "sports-lib/runs/fit/6860622783.fit": NoTrack("no GPS positions", records=3101),
    "sports-lib/runs/fit/6909950168-no-pause-records.fit": Track(
        records=2163, kept=2147, points=2147, segments=3
    ),
    "sports-lib/runs/fit/6909950168.fit": Track(records=2197, kept=2147, points=2147, segments=3),
    "sports-lib/runs/fit/6910052863.fit": Track(records=9543, kept=2802, points=2802, segments=1),
    "sports-lib/runs/fit/6914448270.fit": Track(records=20408, kept=15974, points=15974, segments=1),
    "sports-lib/swim/fit/6788312639-1.fit": Track(records=8930, kept=8523, points=8464, segments=2),
    "sports-lib/triathlons/fit/4623204522.fit": Track(records=30582, kept=30574, points=30477, segments=2),
    "tormoder-fit/bpg/garmin.fit": Track(records=8823, kept=8823, points=8709, segments=34),
    "tormoder-fit/misc/0134902991.fit": Track(records=739, kept=739, points=722, segments=1),
    "tormoder-fit/misc/mornindew-broken.fit": Track(records=6874, kept=6873, points=6596, segments=18),
    "tormoder-fit/misc/unterminated-strings.fit": NoTrack("no GPS positions", records=33),
}


def _index() -> dict[str, dict[str, str]]:
    with open(CORPUS / "INDEX.tsv", newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


INDEX = _index()


def test_table_covers_the_whole_corpus() -> None:
    on_disk = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.fit")}
    assert len(on_disk) == 80
    assert set(EXPECTED) == on_disk == set(INDEX)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_outcome(name: str) -> None:
    expected = EXPECTED[name]
    path = CORPUS / name
    data = path.read_bytes()
    if isinstance(expected, Rejected):
        with pytest.raises(FitDecodeError) as err:
            fit_to_feature(data, source=str(path))
        assert str(path) in err.value.message and expected.reason in err.value.message
        assert "\n" not in err.value.message
        return
    decoded = decode_track(data, str(path))
    activity, track = decoded.activity, decoded.track
    if isinstance(expected, NoTrack):
        assert decoded.no_track_reason == expected.reason
        assert activity.records == expected.records
        assert fit_to_feature(data, source=str(path)) is None
        return
    got = Track(
        records=activity.records,
        kept=len(activity.samples),
        points=track.points,
        segments=len(track.segments),
        truncated=activity.truncated is not None,
    )
    assert got == expected
    feature = fit_to_feature(data, source=str(path))
    assert feature is not None
    geometry = feature["geometry"]
    assert geometry["type"] == ("LineString" if expected.segments == 1 else "MultiLineString")


@pytest.mark.parametrize(
    "name", sorted(n for n, e in EXPECTED.items() if isinstance(e, Track) and INDEX[n]["status"] == "OK")
)
def test_counts_agree_with_fitdecode_index(name: str) -> None:
    """INDEX.tsv was made with fitdecode: our record and valid-position counts must match it."""
    expected = EXPECTED[name]
    assert isinstance(expected, Track)
    row = INDEX[name]
    assert expected.records == int(row["records"])
    assert expected.kept == int(row["records_valid_pos"])
