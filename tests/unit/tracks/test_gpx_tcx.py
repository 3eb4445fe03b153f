"""GPX and TCX originals from real devices: same segment rules as FIT, parsed safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from ridelines.features import ActivityMeta, decode_track, track_file_to_feature
from ridelines.gpxtcx import TrackFileError, parse_track_file
from ridelines.tracks import build_track

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.mark.parametrize(
    ("name", "segments"),
    [("garmin-forerunner-10", 7), ("wahoo-element-bolt", 2), ("garmin-oregon-700", 2)],
)
def test_gpx_of_a_real_ride_segments_like_its_fit(name: str, segments: int) -> None:
    """GPSBabel wrote these GPX files from the FIT next to them: a new trkseg at each pause."""
    gpx = build_track(
        parse_track_file(
            (DATA / "gpx" / f"{name}{'-output' if 'garmin' in name else ''}.gpx").read_bytes()
        ).samples
    )
    fit = decode_track((DATA / "fit/gpsbabel/track" / f"{name}.fit").read_bytes()).track
    assert len(gpx.segments) == len(fit.segments) == segments
    assert abs(gpx.length_m - fit.length_m) < 0.01 * fit.length_m  # the same ride


def test_pauses_gaps_and_jumps_split_gpx_like_fit() -> None:
    forerunner = build_track(
        parse_track_file((DATA / "gpx/garmin-forerunner-10-output.gpx").read_bytes()).samples
    )
    assert forerunner.split_pause == 6  # 7 trksegs (timer stops)
    oregon = build_track(parse_track_file((DATA / "gpx/garmin-oregon-700-output.gpx").read_bytes()).samples)
    assert oregon.split_gap == 1  # one trkseg, but a 1896 s gap in it


def test_tcx_from_two_sources_reads_positions_and_skips_points_without_one() -> None:
    lap = parse_track_file((DATA / "tcx/gpsbabel-gtrnctr-lap_s-excerpt.tcx").read_bytes())
    assert lap.kind == "tcx" and lap.sport == "Run" and lap.points == 13 and len(lap.samples) == 11
    no_hr = parse_track_file((DATA / "tcx/python-tcxparser-no_hr-excerpt.tcx").read_bytes())
    assert len(no_hr.samples) == 10 and no_hr.start is not None and no_hr.start.year == 2012
    assert build_track(no_hr.samples).segments


def test_a_gpx_with_a_single_point_has_no_track() -> None:
    one = parse_track_file((DATA / "gpx/garmin-connect-gpxtpx.gpx").read_bytes())
    assert one.sport == "Ride" and len(one.samples) == 1
    assert (
        track_file_to_feature((DATA / "gpx/garmin-connect-gpxtpx.gpx").read_bytes(), ActivityMeta(id="g"))
        is None
    )


def test_listing_values_win_in_the_feature() -> None:
    feature = track_file_to_feature(
        (DATA / "gpx/wahoo-element-bolt.gpx").read_bytes(), ActivityMeta(id="w1", name="Commute", type="Ride")
    )
    assert feature is not None
    props = feature["properties"]
    assert (
        props["id"] == "w1"
        and props["name"] == "Commute"
        and props["type"] == "Ride"
        and props["distance_m"] > 0
    )
    assert feature["geometry"]["type"] == "MultiLineString"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<gpx><trk><name>&lol9;</name><trkseg><trkpt lat="1" lon="1"/><trkpt lat="1.001" lon="1"/></trkseg></trk></gpx>"""


@pytest.mark.parametrize(
    "document",
    [
        BILLION_LAUGHS,
        b'<?xml version="1.0"?><!DOCTYPE gpx SYSTEM "file:///etc/passwd"><gpx/>',
        b'<?xml version="1.0"?><!doctype gpx [<!entity x SYSTEM "http://evil/">]><gpx>&x;</gpx>',
        BILLION_LAUGHS.decode().encode("utf-16"),  # the same attack in UTF-16
    ],
)
def test_doctype_and_entity_declarations_are_refused_before_parsing(document: bytes) -> None:
    with pytest.raises(TrackFileError, match="DOCTYPE or ENTITY"):
        parse_track_file(document, "evil.gpx")


@pytest.mark.parametrize(
    "document",
    [b"<gpx><trk><trkseg><trkpt lat='1' lon='1'>", b"<kml/>", b"", b"\xff\xfe\x00garbage", b"not xml at all"],
)
def test_broken_or_foreign_xml_is_a_clear_error(document: bytes) -> None:
    with pytest.raises(TrackFileError):
        parse_track_file(document, "bad.gpx")


def test_hostile_values_are_dropped_not_crashing() -> None:
    doc = b"""<gpx><trk><trkseg>
    <trkpt lat="nan" lon="1"><time>2020-01-01T00:00:00Z</time></trkpt>
    <trkpt lat="95" lon="1"/><trkpt lat="0" lon="0"/><trkpt lat="1" lon="inf"/>
    <trkpt lat="1" lon="1"><time>not a time</time></trkpt>
    <trkpt lat="1.001" lon="1"><time>2020-01-01T00:00:10+02:00</time></trkpt>
    </trkseg></trk></gpx>"""
    parsed = parse_track_file(doc)
    assert len(parsed.samples) == 2 and parsed.samples[1][0] is not None
