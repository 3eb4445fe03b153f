"""The stand-in's batch-download zip, written from members deflated ahead of time."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from ridelines_local.standin.zip_members import ZipMember, zip_of

FIT_DIR = Path(__file__).resolve().parents[2] / "data" / "fit"


def test_zipfile_reads_every_member_back_with_its_crc_checked() -> None:
    files = {p.name: p.read_bytes() for p in sorted(FIT_DIR.rglob("*.fit"))[:5]}
    files["empty.fit"] = b""
    files["ünïcode name.fit"] = b"x" * 1000
    body = zip_of((name, ZipMember.of(data)) for name, data in files.items())
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None  # every CRC matches
        assert archive.namelist() == list(files)
        for info in archive.infolist():
            assert info.compress_type == zipfile.ZIP_DEFLATED and info.file_size == len(files[info.filename])
            assert archive.read(info) == files[info.filename]


def test_a_member_kept_on_disk_comes_back_the_same() -> None:
    data = next(FIT_DIR.rglob("*.fit")).read_bytes()
    member = ZipMember.of(data, level=6)
    assert ZipMember.from_bytes(member.to_bytes()) == member
    assert len(member.deflated) < len(data)
    with zipfile.ZipFile(io.BytesIO(zip_of([("a.fit", member)]))) as archive:
        assert archive.read("a.fit") == data


def test_no_members_is_an_empty_archive() -> None:
    with zipfile.ZipFile(io.BytesIO(zip_of([]))) as archive:
        assert archive.namelist() == []
