"""An arm64 userland from Debian's (or Ubuntu's) own packages, to run the layers' binaries under qemu.

The Tippecanoe layer relies on what the Lambda runtime already has: glibc, libstdc++, libgcc_s and
zlib (see ``tests/infrastructure/test_layers.py``). Debian's ``*-arm64-cross`` packages have no zlib, so
the layer test needs the real arm64 packages: ``libc6``, ``libgcc-s1``, ``libstdc++6`` and ``zlib1g``,
fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x`` into ``layers/build/cache``.

No system change: apt runs with its own package lists, cache and an empty dpkg status under the
cache directory (no ``dpkg --add-architecture``, no root needed). On Debian it reads the host's own
apt sources (the archive serves every architecture); Ubuntu keeps arm64 in a separate ports archive,
so there a one-line source for it is added, checked with the host's Ubuntu keyring. About 9 MB of
package lists and 3 MB of packages, ~2 s. Nothing from here ships to Lambda.

Command line: ``python -m layers.arm64_sysroot`` prints the sysroot path (``qemu-aarch64 -L PATH``).
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CACHE_DIR = Path(__file__).resolve().parent / "build" / "cache"
SYSROOT = CACHE_DIR / "arm64-sysroot"
PACKAGES = ("libc6", "libgcc-s1", "libstdc++6", "zlib1g")
# Ubuntu serves arm64 from its ports archive, not from the host's (amd64) mirror.
UBUNTU_PORTS = ("http://ports.ubuntu.com/ubuntu-ports", "/usr/share/keyrings/ubuntu-archive-keyring.gpg")
# What the binaries load: the sysroot is complete when the loader and these libraries are in it.
REQUIRED = ("libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libz.so.1")


class SysrootUnavailable(RuntimeError):
    """This host cannot build the sysroot (not Debian/Ubuntu, no apt, no archive)."""


def os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines() if path.is_file() else []:
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values


def extra_sources(release: dict[str, str]) -> str | None:
    """The apt source to use instead of the host's, or None when the host's own sources serve arm64."""
    ids = [release.get("ID", ""), *release.get("ID_LIKE", "").split()]
    if "ubuntu" in ids:  # derivatives (Mint...) name their Ubuntu release in UBUNTU_CODENAME
        codename = release.get("UBUNTU_CODENAME") or release.get("VERSION_CODENAME")
        url, keyring = UBUNTU_PORTS
        if not codename:
            raise SysrootUnavailable("an Ubuntu release without a codename")
        if not Path(keyring).is_file():
            raise SysrootUnavailable(f"no archive keyring at {keyring}")
        return f"deb [arch=arm64 signed-by={keyring}] {url} {codename} main\n"
    if "debian" in ids:
        return None
    raise SysrootUnavailable(f"not a Debian or Ubuntu host: {release.get('ID')!r}")


def is_complete(root: Path) -> bool:
    lib = root / "lib" / "aarch64-linux-gnu"
    usr_lib = root / "usr" / "lib" / "aarch64-linux-gnu"
    return (root / "lib" / "ld-linux-aarch64.so.1").exists() and all(
        (lib / name).exists() or (usr_lib / name).exists() for name in REQUIRED
    )


def _apt(work: Path, *args: str, cwd: Path | None = None) -> None:
    options = {}
    if (work / "sources.list").is_file():
        options["Dir::Etc::SourceList"] = str(work / "sources.list")
        options["Dir::Etc::SourceParts"] = str(work / "sources.list.d")
    options |= {
        "Dir::State::Lists": str(work / "lists"),
        "Dir::State::status": str(work / "status"),
        "Dir::Cache": str(work / "cache"),
        "APT::Architecture": "arm64",
        "APT::Architectures::": "arm64",
        "Acquire::Languages": "none",
        "APT::Sandbox::User": "root",  # only applies as root: the private dirs need no _apt access
    }
    argv = ["apt-get", "-qq"]
    for key, value in options.items():
        argv += ["-o", f"{key}={value}"]
    done = subprocess.run([*argv, *args], cwd=cwd or work, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SysrootUnavailable(f"apt-get {args[0]} failed: {(done.stderr or done.stdout).strip()[-500:]}")


def ensure(root: Path = SYSROOT) -> Path:
    """The sysroot, built once (reused while complete)."""
    if is_complete(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with (root.parent / ".arm64-sysroot.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers / make: one builds, the rest reuse
        return _build(root)


def _build(root: Path) -> Path:
    if is_complete(root):
        return root
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise SysrootUnavailable(f"{tool} not found (needs a Debian/Ubuntu host)")
    line = extra_sources(os_release())
    with tempfile.TemporaryDirectory(prefix=".arm64-sysroot-", dir=root.parent) as tmp:
        work = Path(tmp)
        for sub in ("lists/partial", "cache/archives/partial", "sources.list.d", "debs", "root"):
            (work / sub).mkdir(parents=True)
        if line is not None:
            (work / "sources.list").write_text(line)
        (work / "status").touch()
        _apt(work, "update")
        debs = work / "debs"
        _apt(work, "download", *PACKAGES, cwd=debs)
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "root")], check=True)  # noqa: S603,S607
        if not is_complete(work / "root"):
            raise SysrootUnavailable(f"{', '.join(PACKAGES)} did not provide {', '.join(REQUIRED)}")
        if root.exists():
            shutil.rmtree(root)
        (work / "root").rename(root)
    return root


def main() -> int:
    try:
        print(ensure())
    except SysrootUnavailable as exc:
        print(f"arm64 sysroot: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
