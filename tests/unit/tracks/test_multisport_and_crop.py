"""A multisport file gives each activity only its own part; a crop narrows the original file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ridelines import fit
from ridelines.features import decode_track
from ridelines.fit import profile as p
from ridelines.selection import ActivityWindow, select_fit_samples

MULTISPORT = (
    Path(__file__).resolve().parents[2] / "data/fit/python-fitparse/activity-large-fenxi2-multisport.fit"
)
RUN, BIKE = 2, 6  # session indexes (file order) of the first run and the bike leg


def fit_datetime(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=value + p.FIT_EPOCH_UNIX)


def test_file_sport_index_keeps_only_that_sessions_samples() -> None:
    activity = fit.decode(MULTISPORT.read_bytes())
    run = select_fit_samples(activity, ActivityWindow(file_sport_index=RUN))
    bike = select_fit_samples(activity, ActivityWindow(file_sport_index=BIKE))
    assert run and bike and len(run) + len(bike) < len(activity.samples)
    run_session, bike_session = activity.sessions[RUN], activity.sessions[BIKE]
    assert all(
        run_session.start_time <= s[0] <= run_session.start_time + run_session.elapsed_s + 1 for s in run
    )
    assert all(bike_session.start_time <= s[0] for s in bike)
    assert {s[0] for s in run}.isdisjoint({s[0] for s in bike})  # two activities, two parts
    assert run[0][4] and bike[0][4]  # each part starts a segment


def test_without_a_sport_index_the_listed_time_window_splits_the_file() -> None:
    activity = fit.decode(MULTISPORT.read_bytes())
    bike_session = activity.sessions[BIKE]
    window = ActivityWindow(
        start=fit_datetime(bike_session.start_time), elapsed_s=int(bike_session.elapsed_s)
    )
    by_time = select_fit_samples(activity, window)
    by_index = select_fit_samples(activity, ActivityWindow(file_sport_index=BIKE))
    assert by_time and {s[0] for s in by_index} <= {s[0] for s in by_time}
    assert len(by_time) < len(activity.samples)


def test_the_track_of_one_part_is_shorter_than_the_whole_file() -> None:
    data = MULTISPORT.read_bytes()
    whole = decode_track(data).track
    bike = decode_track(data, window=ActivityWindow(file_sport_index=BIKE)).track
    assert 0 < bike.length_m < whole.length_m


def test_a_crop_narrows_the_original_to_the_listed_window() -> None:
    ride = Path(__file__).resolve().parents[2] / "data/fit/gpsbabel/track/wahoo-element-bolt.fit"
    activity = fit.decode(ride.read_bytes())
    times = [s[0] for s in activity.samples if s[0] is not None]
    start = fit_datetime(min(times))
    span = max(times) - min(times)
    uncropped = select_fit_samples(activity, ActivityWindow(start=start, elapsed_s=span))
    assert len(uncropped) == len(activity.samples)  # the listing matches the file: nothing cut
    cropped = select_fit_samples(
        activity, ActivityWindow(start=start + timedelta(seconds=span // 4), elapsed_s=span // 2)
    )
    assert 0 < len(cropped) < len(activity.samples)
    assert min(s[0] for s in cropped) >= min(times) + span // 4 - 60


def test_a_window_that_misses_the_file_entirely_keeps_the_whole_ride() -> None:
    """A device clock that disagrees with intervals.icu must not erase a ride."""
    activity = fit.decode(MULTISPORT.read_bytes())
    far = ActivityWindow(start=datetime(2001, 1, 1, tzinfo=UTC), elapsed_s=60)
    assert len(select_fit_samples(activity, far)) == len(activity.samples)
