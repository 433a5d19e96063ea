#!/usr/bin/python3
"""Rewrites qtable tables for the built-in yolov5s into the two layouts Acuity writes
(qpipe-quantize(5), and ANCHORS 1.3 of the project notes), so the reader is tested on files
shaped like the vendor's, not like our own writer's output.

  make_vendor.py PCQ.quantize U8.quantize

PCQ.quantize, U8.quantize: `qtable --quantizer perchannel_symmetric_affine --qtype int8` and
`--quantizer asymmetric_affine --qtype uint8` tables of yolov5s.  Writes next to this script:

yolov5s_vendor_d2.quantize  dialect 2 after `pegasus quantize --hybrid` of the TinaSDK yolov5s
    guide: one flow mapping per entry; per-channel weights with `scale: [..]` (float32
    precision) and `channel_dim` but no min/max or zero points; per-channel biases without
    scales (the reader derives s_in * s_w[c]); the post-processing layers of the guide's
    customized_quantize_layers as dynamic_fixed_point i16 (fl = 15 - ceil(log2 max|x|)), an
    attach_ output entry and two hybrid converter layers (`<layer>_pre_..._to_..._<uid>`).
yolov5s_vendor_d1.quantize  dialect 1 (Acuity 6.0, the khadas mobilenet_tf.quantize layout):
    `%YAML 1.2`, 4-space indents, `dtype`/`method`, lists for zero_point/scale/fl, uint8
    asymmetric weights with their own zero points, biases with empty max/min (every third
    one without scale and zero_point, which the reader derives as s_in * s_w), the same
    i16 layers, customized_quantize_layers last.
"""
import math
import os
import sys

import yaml

here = os.path.dirname(os.path.abspath(__file__))

# customized_quantize_layers of the TinaSDK yolov5s hybrid guide
CUSTOM = """Sigmoid_Sigmoid_202_21 Initializer_342_62 Slice_Slice_207_61 Initializer_344_48 Mul_Mul_209_47
Sub_Sub_211_32 Initializer_346_33 Add_Add_213_17 Mul_Mul_215_8 Initializer_348_18 Slice_Slice_220_49
Initializer_355_50 Mul_Mul_222_34 Initializer_460_20 Pow_Pow_223_19 Mul_Mul_224_9 Concat_Concat_230_5
Slice_Slice_229_10 Reshape_Reshape_232_2 Sigmoid_Sigmoid_237_26 Initializer_385_66 Slice_Slice_242_65
Mul_Mul_244_52 Initializer_387_53 Sub_Sub_246_37 Add_Add_248_22 Initializer_389_38 Mul_Mul_250_11
Initializer_391_23 Initializer_461_35 Initializer_398_55 Slice_Slice_255_54 Mul_Mul_257_39 Pow_Pow_258_24
Mul_Mul_259_12 Initializer_464_25 Slice_Slice_264_13 Concat_Concat_265_6 Reshape_Reshape_267_3
Concat_Concat_303_1 attach_Concat_Concat_303/out0_0 Sigmoid_Sigmoid_272_31 Initializer_428_70
Slice_Slice_277_69 Mul_Mul_279_57 Initializer_430_58 Sub_Sub_281_42 Initializer_432_43 Add_Add_283_27
Mul_Mul_285_14 Initializer_434_28 Initializer_441_45 Slice_Slice_290_59 Mul_Mul_292_44 Initializer_468_30
Mul_Mul_294_15 Slice_Slice_299_16 Concat_Concat_300_7 Reshape_Reshape_302_4 Pow_Pow_293_29""".split()


def layer(key):
    return key[1:key.rindex(":")]


def num(x):
    return repr(float(x))


def fl_of(mn, mx, bits=16):
    a = max(abs(mn), abs(mx)) or 2.0 ** -20
    m, e = math.frexp(a)
    return max(-32, min(32, bits - 1 - (e - 1 if m == 0.5 else e)))


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)["quantize_parameters"]


def d2(pcq):
    out = ["# !!!This file disallow TABs!!!", "version: 2", "quantize_parameters:"]
    for key, e in pcq.items():
        k = "'%s'" % key
        if layer(key) in CUSTOM and key.endswith(":out0"):
            out.append("  %s: {qtype: i16, quantizer: dynamic_fixed_point, rounding: rtne, max_value: %s, "
                       "min_value: %s, fl: %d}" % (k, num(e["max_value"]), num(e["min_value"]),
                                                   fl_of(e["min_value"], e["max_value"])))
        elif e["quantizer"] == "perchannel_symmetric_affine" and key.endswith(":weight"):
            out.append("  %s: {qtype: i8, quantizer: perchannel_symmetric_affine, rounding: rtne, scale: [%s], "
                       "channel_dim: %d}" % (k, ", ".join("%.8g" % s for s in e["scale"]), e["channel_dim"]))
        elif e["quantizer"] == "perchannel_symmetric_affine" and key.endswith(":bias"):
            out.append("  %s: {qtype: i32, quantizer: perchannel_symmetric_affine, rounding: rtne, max_value: %s, "
                       "min_value: %s, channel_dim: %d}" % (k, num(e["max_value"]), num(e["min_value"]),
                                                            e["channel_dim"]))
        elif isinstance(e["scale"], list):
            out.append("  %s: {qtype: %s, quantizer: %s, rounding: rtne, max_value: %s, min_value: %s, "
                       "scale: [%s], zero_point: [%s], channel_dim: %d}"
                       % (k, e["qtype"], e["quantizer"], num(e["max_value"]), num(e["min_value"]),
                          ", ".join(num(s) for s in e["scale"]), ", ".join(str(z) for z in e["zero_point"]),
                          e["channel_dim"]))
        else:
            out.append("  %s: {qtype: %s, quantizer: %s, rounding: rtne, max_value: %s, min_value: %s, "
                       "scale: %s, zero_point: %d}" % (k, e["qtype"], e["quantizer"], num(e["max_value"]),
                                                       num(e["min_value"]), num(e["scale"]), e["zero_point"]))
    # an output layer and the converters a previous --hybrid inserted
    cat = pcq["@Concat_Concat_303_1:out0"]
    out.append("  '@attach_Concat_Concat_303/out0_0:out0': {qtype: i16, quantizer: dynamic_fixed_point, "
               "rounding: rtne, max_value: %s, min_value: %s, fl: %d}"
               % (num(cat["max_value"]), num(cat["min_value"]), fl_of(cat["min_value"], cat["max_value"])))
    for name, uid in (("Sigmoid_Sigmoid_202_21", 400), ("Sigmoid_Sigmoid_237_26", 401)):
        out.append("  '@%s_pre_asymmetric_affinei8_to_dynamic_fixed_pointi16_%d:out0': {qtype: i16, "
                   "quantizer: dynamic_fixed_point, rounding: rtne, max_value: 1.0, min_value: 0.0, fl: 15}"
                   % (name, uid))
    out.append("customized_quantize_layers:")
    out += ["  %s: dynamic_fixed_point-i16" % c for c in CUSTOM]
    return "\n".join(out) + "\n"


def d1(u8):
    out = ["%YAML 1.2", "---", "# !!!This file disallow TABs!!!", "quantize_parameters:"]
    act = {}
    nbias = 0
    for key, e in u8.items():
        out.append("    '%s':" % key)
        if layer(key) in CUSTOM and key.endswith(":out0"):
            out += ["        dtype: dynamic_fixed_point", "        method: layer",
                    "        max_value: %s" % num(e["max_value"]), "        min_value: %s" % num(e["min_value"]),
                    "        fl:", "        -   %d" % fl_of(e["min_value"], e["max_value"]),
                    "        qtype: i16"]
        elif key.endswith(":weight"):
            mn, mx = min(e["min_value"], 0.0), max(e["max_value"], 0.0)
            s = (mx - mn) / 255
            z = int(round(-mn / s))
            act[key] = s
            out += ["        dtype: asymmetric_affine", "        method: layer",
                    "        max_value:", "        -   %s" % num(e["max_value"]),
                    "        min_value:", "        -   %s" % num(e["min_value"]),
                    "        zero_point:", "        -   %d" % z, "        scale:", "        -   %s" % num(s),
                    "        qtype: u8"]
        elif key.endswith(":bias"):
            nbias += 1
            out += ["        dtype: asymmetric_affine", "        method: layer", "        max_value:",
                    "        min_value:"]
            if nbias % 3 == 0:
                out += ["        zero_point:", "        scale:"]
            else:
                w = act[key[:-len("bias")] + "weight"]
                out += ["        zero_point:", "        -   0", "        scale:",
                        "        -   %s" % num(e["scale"] / u8[key[:-len("bias")] + "weight"]["scale"] * w)]
            out.append("        qtype: i32")
        else:
            out += ["        dtype: asymmetric_affine", "        method: layer",
                    "        max_value: %s" % num(e["max_value"]), "        min_value: %s" % num(e["min_value"]),
                    "        zero_point:", "        -   %d" % e["zero_point"],
                    "        scale:", "        -   %s" % num(e["scale"]), "        qtype: u8"]
    out.append("customized_quantize_layers:")
    out += ["    %s: dynamic_fixed_point-i16" % c for c in CUSTOM]
    return "\n".join(out) + "\n"


def main():
    pcq, u8 = load(sys.argv[1]), load(sys.argv[2])
    with open(os.path.join(here, "yolov5s_vendor_d2.quantize"), "w") as f:
        f.write(d2(pcq))
    with open(os.path.join(here, "yolov5s_vendor_d1.quantize"), "w") as f:
        f.write(d1(u8))


if __name__ == "__main__":
    main()
