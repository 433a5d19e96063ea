#!/usr/bin/env python3
"""Crafts a broken NBG from a good one (tests/nbgexport.bats): each edit changes one field,
then the CRC-32 of the header is recomputed unless 'keepcrc' is given, so each test reaches
the check it means to reach.
usage: nbg_edit.py IN OUT EDIT...   where EDIT is one of
  TYPE@OFF=VAL                      a field at a file offset (TYPE u8 u16 u32 u64 i32 f64)
  sec:KIND:FIELD=VAL                a section table field (FIELD count, offset, size)
  rec:KIND:INDEX:TYPE@OFF=VAL       a field of record INDEX of section KIND; INDEX 'const' is
                                    the first constant value, 'act' the first layer's output,
                                    'qweight' the first weight stored as integers,
                                    '@out' the first graph output's value, 'last' the
                                    section's last record
  qscale:I=VAL, qzp:I=VAL           the first scale / zero point of quantization entry I
  mknpy:PATH:D0,D1..:LO:HI          (alone) writes a float32 .npy of seeded uniform values
VAL may be +N or -N: added to the field's current value.
  truncate=N                        keep the first N bytes (and fix the size field)
  keepcrc                           leave the checksum as it is"""
import struct, sys, zlib

FMT = {'u8': '<B', 'u16': '<H', 'u32': '<I', 'u64': '<Q', 'i32': '<i', 'f64': '<d'}
REC = {1: 1, 2: 104, 3: 32, 4: 112, 5: 4, 6: 64, 7: 1, 8: 128, 9: 32, 10: 1}
FIELD = {'count': (4, 'u32'), 'offset': (8, 'u64'), 'size': (16, 'u64')}


def section(b, kind):
    n, so = struct.unpack_from('<I', b, 36)[0], struct.unpack_from('<Q', b, 40)[0]
    for i in range(n):
        e = so + 32 * i
        if struct.unpack_from('<I', b, e)[0] == kind:
            return e
    sys.exit('nbg_edit: no section %d' % kind)


def put(b, typ, off, val):
    if val[0] in '+-' and typ != 'f64':
        val = str(struct.unpack_from(FMT[typ], b, off)[0] + int(val, 0))
    struct.pack_into(FMT[typ], b, off, float(val) if typ == 'f64' else int(val, 0))


def sec_base(b, kind):
    return struct.unpack_from('<Q', b, section(b, kind) + 8)[0]


def record(b, kind, idx):
    if idx == 'const':
        n = struct.unpack_from('<I', b, section(b, 2) + 4)[0]
        idx = next(i for i in range(n) if struct.unpack_from('<I', b, sec_base(b, 2) + 104 * i + 80)[0] == 1)
    elif idx == 'qweight':
        n = struct.unpack_from('<I', b, section(b, 2) + 4)[0]
        idx = next(i for i in range(n) if struct.unpack_from('<I', b, sec_base(b, 2) + 104 * i + 84)[0] != 0)
    elif idx == 'act':
        n0 = sec_base(b, 3)
        n_in, first = struct.unpack_from('<I', b, n0 + 12)[0], struct.unpack_from('<I', b, n0 + 20)[0]
        idx = struct.unpack_from('<i', b, sec_base(b, 5) + 4 * (first + n_in))[0]
    elif idx == 'last':
        idx = struct.unpack_from('<I', b, section(b, kind) + 4)[0] - 1
    elif idx == '@out':
        n = struct.unpack_from('<I', b, section(b, 8) + 4)[0]
        io = next(sec_base(b, 8) + 128 * i for i in range(n)
                  if struct.unpack_from('<I', b, sec_base(b, 8) + 128 * i)[0] == 1)
        idx = struct.unpack_from('<I', b, io + 4)[0]
    return sec_base(b, kind) + int(idx) * REC[kind]


def mknpy(path, shape, lo, hi):
    import random
    random.seed(1)
    n = 1
    for d in shape:
        n *= d
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % ''.join('%d, ' % d for d in shape).rstrip(' ')
    hdr += ' ' * ((64 - (10 + len(hdr) + 1) % 64) % 64) + '\n'
    with open(path, 'wb') as f:
        f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(hdr)) + hdr.encode())
        f.write(struct.pack('<%df' % n, *[random.uniform(lo, hi) for _ in range(n)]))


def main():
    if sys.argv[1].startswith('mknpy:'):
        _, path, dims, lo, hi = sys.argv[1].split(':')
        return mknpy(path, [int(d) for d in dims.split(',')], float(lo), float(hi))
    src, dst, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
    b = bytearray(open(src, 'rb').read())
    crc = True
    for ed in edits:
        if ed == 'keepcrc':
            crc = False
        elif ed.startswith('truncate='):
            b = b[:int(ed.split('=')[1])]
        elif ed.startswith('sec:'):
            _, kind, rest = ed.split(':', 2)
            field, val = rest.split('=')
            off, typ = FIELD[field]
            put(b, typ, section(b, int(kind)) + off, val)
        elif ed.startswith('rec:'):
            _, kind, idx, rest = ed.split(':', 3)
            loc, val = rest.split('=')
            typ, off = loc.split('@')
            put(b, typ, record(b, int(kind), idx) + int(off, 0), val)
        elif ed.startswith('qscale:') or ed.startswith('qzp:'):
            what, rest = ed.split(':', 1)
            idx, val = rest.split('=')
            q = sec_base(b, 6) + 64 * int(idx)
            off = struct.unpack_from('<Q', b, q + (48 if what == 'qscale' else 56))[0]
            put(b, 'f64' if what == 'qscale' else 'i32', sec_base(b, 7) + off, val)
        else:
            loc, val = ed.split('=')
            typ, off = loc.split('@')
            put(b, typ, int(off, 0), val)
    if crc and len(b) >= 64:
        struct.pack_into('<I', b, 48, 0)
        struct.pack_into('<I', b, 48, zlib.crc32(bytes(b)) & 0xffffffff)
    open(dst, 'wb').write(b)


main()
