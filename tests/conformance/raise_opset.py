#!/usr/bin/python3
"""Raises the default-domain opset of an ONNX model to TO, when that changes no operator:
every node's op must resolve to the same version (onnx.defs) under both opsets, so the
raised model means exactly what the original does.  Some backend node tests are stored at
opset 1 or 6, below what onnx2ir imports.
usage: raise_opset.py TO MODEL.onnx OUT.onnx   (exit 0 written, 1 an op would change, 2 usage)"""
import sys

import onnx
import onnx.defs


def main():
    if len(sys.argv) != 4 or not sys.argv[1].isdigit():
        sys.stderr.write(__doc__.splitlines()[-1].strip() + "\n")
        return 2
    to, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    m = onnx.load(src)
    imp = [o for o in m.opset_import if o.domain in ("", "ai.onnx")]
    if len(imp) != 1 or imp[0].version >= to:
        sys.stderr.write("raise_opset: '%s' has no default-domain opset below %d\n" % (src, to))
        return 1
    old = imp[0].version
    for n in m.graph.node:
        if n.domain not in ("", "ai.onnx"):
            continue
        try:
            a = onnx.defs.get_schema(n.op_type, old).since_version
            b = onnx.defs.get_schema(n.op_type, to).since_version
        except onnx.defs.SchemaError:
            a, b = None, -1
        if a != b:
            sys.stderr.write("raise_opset: %s is version %s at opset %d but %s at opset %d\n" % (n.op_type, a, old, b, to))
            return 1
    imp[0].version = to
    if m.ir_version < 3:
        m.ir_version = 3
    onnx.save(m, dst)
    return 0


sys.exit(main())
