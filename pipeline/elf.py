"""Shrinking the shared libraries of the Lambda layer without changing what is loaded.

Some manylinux wheels carry libraries that are mostly empty file space: auditwheel's
patchelf adds load segments aligned to 2 MiB on x86_64, and the file keeps the zeros in
between (tesserocr's libtiff is 6.3 MB on disk for 0.5 MB of content). Some keep their
full symbol table (``.symtab``) and debugging information (``.debug_*``), which only
debuggers read (the dynamic linker reads ``.dynsym``; ``strip`` removes the same).
:func:`compact` removes both, in pure Python, the same way for aarch64 and x86_64, so a
layer build needs no binutils for the target architecture and stays deterministic:

1. The file ranges something points at are kept: the ELF header, the program and
   section header tables, every segment's bytes, every section's bytes except the
   symbol table, its string table and the debugging sections (which become empty).
2. Whole pages (``page`` bytes, at least the largest page size of the architecture: 64
   KiB on aarch64, 4 KiB on x86_64) that nothing points at are cut out, and every file
   offset after them moves by what was cut: a multiple of the page, so each segment's
   offset stays congruent to its address modulo the page. A load segment whose larger
   alignment no longer holds gets the page as its alignment, as the loader requires.
3. Every segment and kept section is checked to hold the same bytes as before; anything
   unexpected (not a 64-bit little-endian shared object, extended numbering) is left as
   it was.
"""

from __future__ import annotations

import struct

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_ET_DYN, _PT_LOAD, _SHT_NULL, _SHT_SYMTAB, _SHT_NOBITS, _SHF_ALLOC = 3, 1, 0, 2, 8, 2
#: The largest page size each machine's kernels use (e_machine -> bytes).
PAGE_SIZES = {62: 0x1000, 183: 0x10000}  # EM_X86_64, EM_AARCH64


def _headers(data: bytes) -> tuple[list[int], list[list[int]], list[list[int]]] | None:
    if len(data) < _EHDR.size or data[:4] != b"\x7fELF" or data[4:6] != b"\x02\x01":
        return None
    ehdr = list(_EHDR.unpack_from(data))
    phoff, shoff, phentsize, phnum, shentsize, shnum = (ehdr[i] for i in (5, 6, 9, 10, 11, 12))
    if ehdr[1] != _ET_DYN or ehdr[2] not in PAGE_SIZES or phnum in (0, 0xFFFF) or shnum == 0:
        return None
    if phentsize != _PHDR.size or shentsize != _SHDR.size or ehdr[13] >= shnum:
        return None
    if max(phoff + phnum * phentsize, shoff + shnum * shentsize) > len(data):
        return None
    phdrs = [list(_PHDR.unpack_from(data, phoff + i * phentsize)) for i in range(phnum)]
    shdrs = [list(_SHDR.unpack_from(data, shoff + i * shentsize)) for i in range(shnum)]
    return ehdr, phdrs, shdrs


def _debug_sections(data: bytes, ehdr: list[int], shdrs: list[list[int]]) -> set[int]:
    """Indexes of the debugging sections (``.debug_*``, not loaded) that strip removes."""
    names = shdrs[ehdr[13]]
    table = data[names[4] : names[4] + names[5]]
    found = set()
    for index, sh in enumerate(shdrs):
        name = table[sh[0] : table.find(b"\0", sh[0])] if sh[0] < len(table) else b""
        if not sh[2] & _SHF_ALLOC and name.startswith((b".debug_", b".zdebug_")):
            found.add(index)
    return found


def _removable(covered: list[tuple[int, int]], size: int, page: int) -> list[tuple[int, int]]:
    """Whole pages outside every covered range, as sorted (start, end) runs."""
    runs, position = [], 0
    for start, end in [*sorted(covered), (size, size)]:
        first, last = -(-position // page) * page, (start // page) * page
        if last > first:
            runs.append((first, last))
        position = max(position, end)
    return runs


def compact(data: bytes) -> bytes:
    """Returns the shared object ``data`` without unreferenced pages and symbol table
    (see the module's docstring); anything else is returned unchanged."""
    parsed = _headers(data)
    if parsed is None:
        return data
    ehdr, phdrs, shdrs = parsed
    page = PAGE_SIZES[ehdr[2]]
    dropped = {i for i, sh in enumerate(shdrs) if sh[1] == _SHT_SYMTAB}
    dropped |= {shdrs[i][6] for i in dropped if 0 < shdrs[i][6] < len(shdrs)}
    dropped |= _debug_sections(data, ehdr, shdrs)
    dropped.discard(ehdr[13])
    covered = [(0, _EHDR.size), (ehdr[5], ehdr[5] + len(phdrs) * _PHDR.size)]
    covered.append((ehdr[6], ehdr[6] + len(shdrs) * _SHDR.size))
    covered += [(ph[2], ph[2] + ph[5]) for ph in phdrs if ph[5]]
    kept = [
        i
        for i, sh in enumerate(shdrs)
        if i not in dropped and sh[1] not in (_SHT_NULL, _SHT_NOBITS) and sh[5]
    ]
    covered += [(shdrs[i][4], shdrs[i][4] + shdrs[i][5]) for i in kept]
    if max(end for _start, end in covered) > len(data):
        return data
    runs = _removable(covered, len(data), page)
    if not runs:
        return data

    def moved(offset: int) -> int:
        return offset - sum(end - start for start, end in runs if end <= offset)

    out = bytearray()
    position = 0
    for start, end in runs:
        out += data[position:start]
        position = end
    out += data[position:]
    for i in dropped:  # what is left of them is zeroed: nothing points there any more
        start, size = shdrs[i][4], shdrs[i][5] if shdrs[i][1] != _SHT_NOBITS else 0
        for keep_start, keep_end in _kept_parts(start, start + size, runs):
            out[moved(keep_start) : moved(keep_start) + keep_end - keep_start] = bytes(
                keep_end - keep_start
            )
        shdrs[i] = [shdrs[i][0], _SHT_NULL, 0, 0, 0, 0, 0, 0, 0, 0]
    for ph in phdrs:
        ph[2] = moved(ph[2])
        if ph[0] == _PT_LOAD and ph[7] > page and (ph[3] - ph[2]) % ph[7]:
            ph[7] = page
    for i in kept:
        shdrs[i][4] = moved(shdrs[i][4])
    ehdr[5], ehdr[6] = moved(ehdr[5]), moved(ehdr[6])
    _EHDR.pack_into(out, 0, *ehdr)
    for index, ph in enumerate(phdrs):
        _PHDR.pack_into(out, ehdr[5] + index * _PHDR.size, *ph)
    for index, sh in enumerate(shdrs):
        _SHDR.pack_into(out, ehdr[6] + index * _SHDR.size, *sh)
    result = bytes(out)
    _check(data, _headers(data), result)
    return result


def _kept_parts(start: int, end: int, runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [start, end) that no removed run covers."""
    parts, position = [], start
    for run_start, run_end in runs:
        if run_end <= position or run_start >= end:
            continue
        if run_start > position:
            parts.append((position, run_start))
        position = max(position, run_end)
    if position < end:
        parts.append((position, end))
    return parts


def _check(
    before: bytes,
    parsed: tuple[list[int], list[list[int]], list[list[int]]] | None,
    after: bytes,
) -> None:
    """Raises if a segment or a kept section does not hold the bytes it held before."""
    checked = _headers(after)
    if parsed is None or checked is None:
        raise ValueError("compacting a shared object broke its headers")
    ehdr, phdrs, shdrs = parsed
    new_ehdr, new_phdrs, new_shdrs = checked
    # The header tables themselves changed (offsets): compare everything else.
    before, after = _without_headers(before, ehdr), _without_headers(after, new_ehdr)
    pairs = [(old[2], new[2], old[5]) for old, new in zip(phdrs, new_phdrs, strict=True)]
    pairs += [
        (old[4], new[4], old[5])
        for old, new in zip(shdrs, new_shdrs, strict=True)
        if new[1] not in (_SHT_NULL, _SHT_NOBITS)
    ]
    for old_offset, new_offset, size in pairs:
        if before[old_offset : old_offset + size] != after[new_offset : new_offset + size]:
            raise ValueError("compacting a shared object moved content wrongly")
    for ph in new_phdrs:
        if ph[0] == _PT_LOAD and ph[7] > 1 and (ph[3] - ph[2]) % ph[7]:
            raise ValueError("compacting a shared object misaligned a load segment")


def _without_headers(data: bytes, ehdr: list[int]) -> bytes:
    """``data`` with the ELF header and the program and section header tables zeroed."""
    masked = bytearray(data)
    tables = [(0, _EHDR.size), (ehdr[5], ehdr[10] * _PHDR.size), (ehdr[6], ehdr[12] * _SHDR.size)]
    for offset, size in tables:
        masked[offset : offset + size] = bytes(size)
    return bytes(masked)
