"""The dependency locks: ``requirements*.in`` (top-level pins, edited by hand) compiled by uv into
``requirements*.txt`` (every transitive package, with hashes).

* ``requirements.txt`` is compiled for the Lambda platform (aarch64, the runtime's Python): the layer
  installs exactly it, ``--require-hashes``.
* ``requirements-dev.txt`` is compiled for every platform (``--universal``) with the runtime lock as
  constraints, so the laptop, CI and the Lambda layer run the same versions.

Each lock starts with a digest of its inputs, so ``check`` (run by ``make test``, offline) fails when an
``.in`` file changed and ``make lock`` was not run, and when a top-level pin is not what the lock holds.

    python -m tools.requirements_lock compile   # make lock
    python -m tools.requirements_lock check     # make lock-check
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from layers.build import PLATFORM, PYTHON_VERSION

REPO_ROOT = Path(__file__).resolve().parents[1]
DIGEST_PREFIX = "# inputs-sha256: "
DEV_PYTHON_VERSION = "3.11"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;\\]+)")
_INCLUDE = re.compile(r"^-r\s+(\S+)")


@dataclass(frozen=True)
class Lock:
    source: str  # the .in file
    output: str  # the lock
    uv_args: tuple[str, ...]
    constraints: tuple[str, ...] = ()

    def inputs(self, root: Path) -> list[Path]:
        """The .in file and every file it includes with ``-r`` (constraints are locks: not inputs)."""
        seen: list[Path] = []
        todo = [root / self.source]
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.append(path)
            for line in path.read_text().splitlines():
                match = _INCLUDE.match(line.strip())
                if match:
                    todo.append(path.parent / match.group(1))
        return seen

    def digest(self, root: Path) -> str:
        h = hashlib.sha256()
        for path in self.inputs(root):
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        for constraint in self.constraints:
            h.update(_requirement_lines(root / constraint).encode())
        h.update(" ".join(self.uv_args).encode())
        return h.hexdigest()


# uv spells the manylinux2014 aarch64 platform as a target triple.
_UV_PLATFORM = {"manylinux2014_aarch64": "aarch64-manylinux2014"}[PLATFORM]
LOCKS = (
    Lock(
        "requirements.in",
        "requirements.txt",
        ("--python-platform", _UV_PLATFORM, "--python-version", PYTHON_VERSION),
    ),
    Lock(
        "requirements-dev.in",
        "requirements-dev.txt",
        ("--universal", "--python-version", DEV_PYTHON_VERSION),
        constraints=("requirements.txt",),
    ),
)


def _requirement_lines(path: Path) -> str:
    """The pins of a lock without comments (so its own digest header does not feed the next digest)."""
    if not path.is_file():
        return ""
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))


def pins(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(3)
    return found


def problems(root: Path = REPO_ROOT) -> list[str]:
    found = []
    for lock in LOCKS:
        output = root / lock.output
        if not output.is_file():
            found.append(f"{lock.output} is missing: run `make lock`")
            continue
        text = output.read_text()
        header = next((line for line in text.splitlines() if line.startswith(DIGEST_PREFIX)), None)
        if header != DIGEST_PREFIX + lock.digest(root):
            found.append(
                f"{lock.output} is stale: {lock.source} (or what it includes) changed; run `make lock`"
            )
        locked = pins(text)
        for path in lock.inputs(root):
            for name, version in pins(path.read_text()).items():
                if locked.get(name) != version:
                    found.append(f"{lock.output} has {name}=={locked.get(name)}, {path.name} pins {version}")
        if "--hash=sha256:" not in text:
            found.append(f"{lock.output} has no hashes")
    return found


def compile_locks(root: Path = REPO_ROOT) -> None:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    for lock in LOCKS:
        output = root / lock.output
        command = [uv, "pip", "compile", lock.source, "--generate-hashes", "--quiet", *lock.uv_args]
        for constraint in lock.constraints:
            command += ["--constraint", constraint]
        # An existing lock is uv's preference: re-locking moves only what the .in change forces.
        command += ["--output-file", lock.output, "--no-header"]
        subprocess.run(command, cwd=root, check=True)  # noqa: S603 - fixed argv, no shell
        body = output.read_text()
        header = (
            f"# Generated by `make lock` (uv pip compile {lock.source} {' '.join(lock.uv_args)}); "
            "do not edit.\n"
            f"{DIGEST_PREFIX}{lock.digest(root)}\n"
        )
        output.write_text(header + body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.requirements_lock")
    parser.add_argument("command", choices=("compile", "check"))
    args = parser.parse_args(argv)
    if args.command == "compile":
        compile_locks()
        return 0
    found = problems()
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
