#!/usr/bin/env python3
"""ONNX Runtime as the oracle for qnn's quantized operators.

Builds small single-node models (onnx.helper) for every quantized operator qnn implements — ONNX
QuantizeLinear, DequantizeLinear, QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger and the
com.microsoft QGemm, QLinearAdd, QLinearMul, QLinearConcat, QLinearAveragePool,
QLinearGlobalAveragePool, QLinearSigmoid, QLinearLeakyRelu, QuantizeLinear, DequantizeLinear — runs
each with ONNX Runtime's CPUExecutionProvider with graph optimizations disabled (so ORT runs exactly
that operator), and writes

    <out>/<case>/model.onnx
    <out>/<case>/test_data_set_0/input_<i>.pb, output_<i>.pb

in the layout of the ONNX conformance data. tests/qops/test_ort_oracle.cpp runs every case through
qnn and requires bit-exact outputs.

Data: random values from several seeds, plus values chosen so that requantization lands on exact
.5 ties (power-of-two scale ratios) and on saturation. Where ONNX Runtime's x86 integer kernels are
not exact — u8 × s8 products summed pairwise in int16 with saturation by AVX2's vpmaddubsw
(docs/numerics.md §5.1) — the s8 operand is kept in [-64, 64], where no pair can saturate, so ORT's
result is the exact one qnn computes.

Usage: make_ort_cases.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

NP2ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.uint16): TensorProto.UINT16,
    np.dtype(np.int16): TensorProto.INT16,
    np.dtype(np.int32): TensorProto.INT32,
}
RANGE = {np.uint8: (0, 255), np.int8: (-128, 127), np.uint16: (0, 65535), np.int16: (-32768, 32767)}

OUT = None
CASES = []


def qrand(rng, dtype, shape, lo=None, hi=None):
    a, b = RANGE[dtype]
    a = a if lo is None else lo
    b = b if hi is None else hi
    return rng.integers(a, b + 1, size=shape).astype(dtype)


def f32(v):
    return np.array(v, dtype=np.float32)


def run_ort(nodes, inputs, inits, out_names, opset=13, ms=False):
    """ORT's outputs for a graph, without writing anything (for the parameter searches below)."""
    return emit(None, nodes, inputs, inits, out_names, opset, ms)


def emit(name, nodes, inputs, inits, out_names, opset=13, ms=False):
    """inputs: list of (name, array) fed at run time; inits: list of (name, array) initializers.
    Writes the case unless name is None; returns ORT's outputs."""
    vi_in = [helper.make_tensor_value_info(n, NP2ONNX[a.dtype], list(a.shape)) for n, a in inputs]
    vi_out = [helper.make_empty_tensor_value_info(n) for n in out_names]
    graph = helper.make_graph(nodes, name, vi_in, vi_out, [numpy_helper.from_array(a, n) for n, a in inits])
    opsets = [helper.make_opsetid("", opset)]
    if ms:
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets, ir_version=9 if opset >= 21 else 8)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    outs = sess.run(None, {n: a for n, a in inputs})
    if name is None:
        return outs
    # The declared output types and shapes are what ORT produced.
    del model.graph.output[:]
    model.graph.output.extend(
        [helper.make_tensor_value_info(n, NP2ONNX[v.dtype], list(v.shape)) for n, v in zip(out_names, outs)])
    d = os.path.join(OUT, name)
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    for i, (n, a) in enumerate(inputs):
        with open(os.path.join(ds, f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a, n).SerializeToString())
    for i, v in enumerate(outs):
        with open(os.path.join(ds, f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(v, out_names[i]).SerializeToString())
    CASES.append(name)
    return outs


def quantize_np(f, scale, zp, dtype):
    """QuantizeLinear in numpy: fp32 division, clamp, round half to even, + zp."""
    lo, hi = RANGE[dtype]
    v = (np.asarray(f, dtype=np.float32) / np.float32(scale)).astype(np.float32)
    return (np.rint(np.clip(v, lo - zp, hi - zp)) + zp).astype(np.int64)


def search(rng, trials, want, propose, differs):
    """Parameters for which ORT's result differs from a plausible alternative rule: `propose(rng)`
    makes a candidate, `differs(candidate)` runs ORT and the alternative; up to `want` hits."""
    found = []
    for _ in range(trials):
        c = propose(rng)
        if differs(c):
            found.append(c)
            if len(found) == want:
                break
    return found


def ms_node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, domain="com.microsoft", **attrs)


# ---- QuantizeLinear / DequantizeLinear ----------------------------------------------------------

def quantize_cases():
    rng = np.random.default_rng(1)
    s = np.float32(0.05)
    # ties at ±0.5, ±1.5, ±2.5 LSB, saturation, ±inf, NaN, -0
    special = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1e9, -1e9, np.inf, -np.inf, np.nan, -0.0],
                       dtype=np.float32) * s
    for dtype, zp, opset, ms in [(np.uint8, 128, 13, False), (np.int8, -3, 13, False), (np.uint16, 30000, 21, False),
                                 (np.int16, -7, 21, False), (np.uint16, 1234, 13, True), (np.int16, 5, 13, True)]:
        x = np.concatenate([special, (rng.standard_normal(52) * 6).astype(np.float32)]).reshape(4, 16)
        if dtype in (np.uint16, np.int16):
            x = x * np.float32(300)
        tag = f"{np.dtype(dtype).name}{'_ms' if ms else ''}"
        node = (ms_node if ms else helper.make_node)("QuantizeLinear", ["x", "s", "z"], ["y"])
        emit(f"quantize_{tag}", [node], [("x", x)], [("s", f32(s)), ("z", np.array(zp, dtype=dtype))], ["y"],
             opset=opset, ms=ms)
        # per axis
        xa = (rng.standard_normal((2, 3, 5)) * 4).astype(np.float32)
        scales = f32([0.02, 0.1, 0.37])
        zps = np.array([RANGE[dtype][0] + 3, (RANGE[dtype][0] + RANGE[dtype][1]) // 2, RANGE[dtype][1] - 9], dtype=dtype)
        node = (ms_node if ms else helper.make_node)("QuantizeLinear", ["x", "s", "z"], ["y"], axis=1)
        emit(f"quantize_axis_{tag}", [node], [("x", xa)], [("s", scales), ("z", zps)], ["y"], opset=opset, ms=ms)
        # dequantize
        q = qrand(rng, dtype, (3, 2, 5))
        node = (ms_node if ms else helper.make_node)("DequantizeLinear", ["q", "s", "z"], ["y"])
        emit(f"dequantize_{tag}", [node], [("q", q)], [("s", f32(0.0173)), ("z", np.array(zp, dtype=dtype))], ["y"],
             opset=opset, ms=ms)
        node = (ms_node if ms else helper.make_node)("DequantizeLinear", ["q", "s", "z"], ["y"], axis=0)
        emit(f"dequantize_axis_{tag}", [node], [("q", q)], [("s", scales), ("z", zps)], ["y"], opset=opset, ms=ms)
    # zero point omitted: uint8
    x = (rng.standard_normal(20) * 3).astype(np.float32)
    emit("quantize_no_zp", [helper.make_node("QuantizeLinear", ["x", "s"], ["y"])], [("x", x)], [("s", f32(0.03))], ["y"])
    # int32 (a bias)
    b = rng.integers(-2**30, 2**30, size=8).astype(np.int32)
    emit("dequantize_int32", [helper.make_node("DequantizeLinear", ["b", "s"], ["y"])], [("b", b)],
         [("s", f32(1.7e-5))], ["y"])


# ---- QLinearConv / ConvInteger --------------------------------------------------------------------

def conv_case(name, rng, xt, wt, x_shape, w_shape, per_channel, bias, attrs, scales=None, w_range=None,
              distinct_wzp=False, y_zp=None):
    m = w_shape[0]
    x = qrand(rng, xt, x_shape)
    w = qrand(rng, wt, w_shape, *(w_range or (None, None)))
    xs, ws, ys = scales or (0.02, 0.005, 0.04)
    xz = np.array(rng.integers(*RANGE[xt]) if xt != np.int8 else rng.integers(-20, 20), dtype=xt)
    if per_channel:
        wsc = (np.float32(ws) * (1 + rng.random(m))).astype(np.float32)
        wz = (rng.integers(-3, 4, size=m) if distinct_wzp else np.zeros(m, dtype=np.int64))
        wz = (wz + (128 if wt == np.uint8 else 0)).astype(wt)
    else:
        wsc = f32(ws)
        wz = np.array(128 if wt == np.uint8 else 0, dtype=wt)
    yz = np.array(y_zp if y_zp is not None else (128 if xt == np.uint8 else 3), dtype=xt)
    inits = [("xs", f32(xs)), ("xz", xz), ("w", w), ("ws", wsc), ("wz", wz), ("ys", f32(ys)), ("yz", yz)]
    ins = ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"]
    if bias:
        inits.append(("b", rng.integers(-2000, 2000, size=m).astype(np.int32)))
        ins.append("b")
    emit(name, [helper.make_node("QLinearConv", ins, ["y"], **attrs)], [("x", x)], inits, ["y"])


def qlinearconv_cases():
    for seed in range(3):
        rng = np.random.default_rng(100 + seed)
        conv_case(f"qlinearconv_u8u8_s{seed}", rng, np.uint8, np.uint8, (1, 4, 7, 7), (6, 4, 3, 3), False, True,
                  dict(pads=[1, 1, 1, 1]))
        conv_case(f"qlinearconv_u8s8_perchannel_s{seed}", rng, np.uint8, np.int8, (2, 6, 8, 8), (16, 6, 3, 3), True,
                  True, dict(pads=[1, 0, 2, 1], strides=[2, 1]), w_range=(-64, 64))
        conv_case(f"qlinearconv_s8s8_group_s{seed}", rng, np.int8, np.int8, (1, 6, 9, 9), (4, 3, 3, 3), True, True,
                  dict(group=2, dilations=[2, 1], pads=[2, 1, 2, 1]))
        conv_case(f"qlinearconv_s8s8_depthwise_s{seed}", rng, np.int8, np.int8, (1, 16, 6, 6), (16, 1, 3, 3), True,
                  False, dict(group=16, auto_pad="SAME_UPPER"))
    rng = np.random.default_rng(7)
    # ties: x_scale·w_scale/y_scale = 1/2 and 1/4, exact in fp32, so acc·m lands on .5 often
    # (an odd output zero point tells "round, then add zp" from "add zp, then round")
    conv_case("qlinearconv_ties_half", rng, np.uint8, np.uint8, (1, 3, 5, 5), (4, 3, 2, 2), False, True, {},
              scales=(0.5, 0.25, 0.0625), y_zp=127)
    conv_case("qlinearconv_ties_quarter_s8", rng, np.int8, np.int8, (1, 3, 5, 5), (4, 3, 2, 2), True, True,
              dict(strides=[2, 2]), scales=(0.25, 0.125, 0.125))
    # saturation: outputs far outside the range
    conv_case("qlinearconv_saturate", rng, np.uint8, np.int8, (1, 4, 5, 5), (8, 4, 3, 3), True, True, {},
              scales=(0.5, 0.5, 0.01), w_range=(-64, 64))
    conv_case("qlinearconv_1d", rng, np.uint8, np.uint8, (2, 3, 11), (5, 3, 3), False, True,
              dict(pads=[1, 2], strides=[2]))
    conv_case("qlinearconv_distinct_wzp", rng, np.uint8, np.uint8, (1, 3, 6, 6), (4, 3, 3, 3), True, True, {},
              distinct_wzp=True)
    conv_case("qlinearconv_same_lower", rng, np.int8, np.int8, (1, 2, 7, 6), (3, 2, 3, 2), False, False,
              dict(auto_pad="SAME_LOWER", strides=[2, 2]))


def convinteger_cases():
    rng = np.random.default_rng(11)
    for seed in range(2):
        x = qrand(rng, np.uint8, (1, 3, 6, 6))
        w = qrand(rng, np.uint8, (4, 3, 3, 3))
        emit(f"convinteger_u8u8_s{seed}",
             [helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], pads=[1, 1, 1, 1], strides=[1, 2])],
             [("x", x)], [("w", w), ("xz", np.array(seed * 90, dtype=np.uint8)), ("wz", np.array(127, dtype=np.uint8))],
             ["y"])
    # zero points as run-time inputs (dynamic quantization)
    x = qrand(rng, np.uint8, (2, 2, 5, 5))
    w = qrand(rng, np.uint8, (3, 2, 2, 2))
    emit("convinteger_runtime_zp", [helper.make_node("ConvInteger", ["x", "w", "xz"], ["y"])],
         [("x", x), ("xz", np.array(77, dtype=np.uint8))], [("w", w)], ["y"])


# ---- QLinearMatMul / MatMulInteger / QGemm -----------------------------------------------------------

def matmul_cases():
    for seed in range(3):
        rng = np.random.default_rng(200 + seed)
        for at, bt, tag in [(np.uint8, np.uint8, "u8u8"), (np.uint8, np.int8, "u8s8"), (np.int8, np.int8, "s8s8")]:
            brange = (-64, 64) if (at == np.uint8 and bt == np.int8) else (None, None)
            a = qrand(rng, at, (2, 5, 24))
            b = qrand(rng, bt, (24, 7), *brange)
            az = np.array(rng.integers(0, 255) if at == np.uint8 else rng.integers(-30, 30), dtype=at)
            per_col = seed == 1
            bs = (np.float32(0.01) * (1 + rng.random(7))).astype(np.float32) if per_col else f32(0.013)
            bz = np.array([128 if bt == np.uint8 else 0] * (7 if per_col else 1), dtype=bt)
            if not per_col:
                bz = bz.reshape(())
            yz = np.array(120 if at == np.uint8 else -5, dtype=at)
            inits = [("as", f32(0.03)), ("az", az), ("bs", bs), ("bz", bz), ("ys", f32(0.2)), ("yz", yz)]
            node = helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])
            # b is a run-time input too: a MatMul of two activations
            emit(f"qlinearmatmul_{tag}_s{seed}", [node], [("a", a), ("b", b)], inits, ["y"])
    rng = np.random.default_rng(9)
    # ties: 0.5·0.5/0.125 = 2 → no; 0.25·0.5/1 = 1/8 → .5 ties when acc ≡ 4 mod 8
    a = qrand(rng, np.uint8, (3, 8))
    b = qrand(rng, np.uint8, (8, 4))
    inits = [("as", f32(0.25)), ("az", np.array(100, np.uint8)), ("bs", f32(0.5)), ("bz", np.array(130, np.uint8)),
             ("ys", f32(1.0)), ("yz", np.array(128, np.uint8))]
    emit("qlinearmatmul_ties", [helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])],
         [("a", a), ("b", b)], inits, ["y"])
    # NumPy batching: [2, 1, 3, 6] x [4, 6, 5]
    a = qrand(rng, np.int8, (2, 1, 3, 6))
    b = qrand(rng, np.int8, (4, 6, 5))
    inits = [("as", f32(0.05)), ("az", np.array(-7, np.int8)), ("bs", f32(0.02)), ("bz", np.array(0, np.int8)),
             ("ys", f32(0.09)), ("yz", np.array(2, np.int8))]
    emit("qlinearmatmul_broadcast", [helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])],
         [("a", a), ("b", b)], inits, ["y"])
    # constant B (a weight) with saturation
    a = qrand(rng, np.uint8, (4, 16))
    b = qrand(rng, np.int8, (16, 3), -64, 64)
    inits = [("as", f32(0.5)), ("az", np.array(0, np.uint8)), ("b", b), ("bs", f32(0.5)), ("bz", np.array(0, np.int8)),
             ("ys", f32(0.05)), ("yz", np.array(128, np.uint8))]
    emit("qlinearmatmul_const_b_saturate",
         [helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])], [("a", a)], inits,
         ["y"])

    # MatMulInteger
    for at, bt, tag in [(np.uint8, np.uint8, "u8u8"), (np.uint8, np.int8, "u8s8"), (np.int8, np.int8, "s8s8")]:
        brange = (-64, 64) if (at == np.uint8 and bt == np.int8) else (None, None)
        a = qrand(rng, at, (2, 4, 10))
        b = qrand(rng, bt, (10, 6), *brange)
        az = np.array(rng.integers(*RANGE[at]), dtype=at)
        bz = qrand(rng, bt, (6,), -3, 3) if bt == np.int8 else qrand(rng, bt, (6,), 120, 135)
        try:
            emit(f"matmulinteger_{tag}", [helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["y"])],
                 [("a", a), ("az", az)], [("b", b), ("bz", bz)], ["y"])
        except Exception as e:  # an ORT build without this type pair
            print(f"skipping matmulinteger_{tag}: {e}", file=sys.stderr)
    a = qrand(rng, np.uint8, (5, 7))
    b = qrand(rng, np.uint8, (7, 3))
    emit("matmulinteger_no_zp", [helper.make_node("MatMulInteger", ["a", "b"], ["y"])], [("a", a), ("b", b)], [], ["y"])


def qgemm_cases():
    for seed in range(3):
        rng = np.random.default_rng(300 + seed)
        for at, bt, tag in [(np.uint8, np.int8, "u8s8"), (np.uint8, np.uint8, "u8u8"), (np.int8, np.int8, "s8s8")]:
            brange = (-64, 64) if (at == np.uint8 and bt == np.int8) else (None, None)
            m, k, n = 3, 20, 6
            trans_a, trans_b = seed == 2, seed != 0
            a = qrand(rng, at, (k, m) if trans_a else (m, k))
            b = qrand(rng, bt, (n, k) if trans_b else (k, n), *brange)
            az = np.array(rng.integers(0, 255) if at == np.uint8 else rng.integers(-20, 20), dtype=at)
            per_col = seed >= 1
            bs = (np.float32(0.01) * (1 + rng.random(n))).astype(np.float32) if per_col else f32(0.012)
            bz = np.full(n if per_col else (), 128 if bt == np.uint8 else 0, dtype=bt)
            c = rng.integers(-500, 500, size=n).astype(np.int32)
            yz = np.array(128 if at == np.uint8 else 0, dtype=at)
            alpha = [1.0, 0.5, 1.0][seed]
            inits = [("as", f32(0.04)), ("az", az), ("b", b), ("bs", bs), ("bz", bz), ("c", c), ("ys", f32(0.15)),
                     ("yz", yz)]
            node = ms_node("QGemm", ["a", "as", "az", "b", "bs", "bz", "c", "ys", "yz"], ["y"], transA=int(trans_a),
                           transB=int(trans_b), alpha=alpha)
            emit(f"qgemm_{tag}_s{seed}", [node], [("a", a)], inits, ["y"], ms=True)
            # float output: no y_scale / y_zero_point
            node = ms_node("QGemm", ["a", "as", "az", "b", "bs", "bz", "c"], ["y"], transA=int(trans_a),
                           transB=int(trans_b), alpha=alpha)
            emit(f"qgemm_float_{tag}_s{seed}", [node], [("a", a)], inits[:6], ["y"], ms=True)
    rng = np.random.default_rng(33)
    a = qrand(rng, np.uint8, (4, 8))
    b = qrand(rng, np.uint8, (8, 5))
    inits = [("as", f32(0.5)), ("az", np.array(128, np.uint8)), ("b", b), ("bs", f32(0.25)), ("bz", np.array(128, np.uint8)),
             ("ys", f32(0.5)), ("yz", np.array(128, np.uint8))]
    emit("qgemm_ties_no_bias", [ms_node("QGemm", ["a", "as", "az", "b", "bs", "bz", "", "ys", "yz"], ["y"])], [("a", a)],
         inits, ["y"], ms=True)


# ---- element-wise --------------------------------------------------------------------------------

def binary_cases():
    shapes = [((2, 3, 4, 5), (2, 3, 4, 5)), ((2, 3, 4, 5), (1, 3, 1, 1)), ((1, 3, 1, 1), (2, 3, 4, 5)),
              ((2, 1, 5), (3, 1)), ((4, 1), (1, 6)), ((7,), ()), ((), (9,)), ((3, 40), (40,)), ((1,), (5, 1))]
    for op in ["QLinearAdd", "QLinearMul"]:
        for seed in range(2):
            rng = np.random.default_rng(400 + seed)
            for dt in [np.uint8, np.int8]:
                for si, (sa, sb) in enumerate(shapes):
                    a = qrand(rng, dt, sa)
                    b = qrand(rng, dt, sb)
                    # scales with non-trivial fp32 ratios, so ORT's fused products matter
                    s = (0.01 + rng.random(3) * 0.2).astype(np.float32)
                    if op == "QLinearMul":
                        s[2] *= np.float32(20)
                    z = [qrand(rng, dt, ()) for _ in range(3)]
                    inits = [("as", f32(s[0])), ("az", z[0]), ("bs", f32(s[1])), ("bz", z[1]), ("cs", f32(s[2])),
                             ("cz", z[2])]
                    node = ms_node(op, ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["y"])
                    emit(f"{op.lower()}_{np.dtype(dt).name}_shape{si}_s{seed}", [node], [("a", a), ("b", b)], inits,
                         ["y"], ms=True)
        # every a byte against 24 b values (the extremes among them), tie-prone scales
        rng = np.random.default_rng(450)
        for dt, zs in [(np.uint8, (128, 127, 131)), (np.int8, (0, -1, 3))]:
            lo, hi = RANGE[dt]
            bvals = np.concatenate([[lo, lo + 1, hi - 1, hi], rng.integers(lo, hi + 1, size=20)]).astype(dt)
            a = np.repeat(np.arange(lo, hi + 1)[:, None], len(bvals), axis=1).astype(dt)
            b = np.repeat(bvals[None, :], 256, axis=0)
            scales = (0.5, 0.25, 1.0) if op == "QLinearAdd" else (0.5, 0.25, 2.0)
            inits = [("as", f32(scales[0])), ("az", np.array(zs[0], dt)), ("bs", f32(scales[1])),
                     ("bz", np.array(zs[1], dt)), ("cs", f32(scales[2])), ("cz", np.array(zs[2], dt))]
            node = ms_node(op, ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["y"])
            emit(f"{op.lower()}_{np.dtype(dt).name}_all_pairs_ties", [node], [("a", a), ("b", b)], inits, ["y"], ms=True)
    # (ORT's QLinearAdd schema has no 16-bit types, so 16-bit Add has no oracle here.)


def concat_cases():
    for seed in range(3):
        rng = np.random.default_rng(500 + seed)
        for dt in [np.uint8, np.int8]:
            xs = [qrand(rng, dt, (2, c, 3)) for c in (2, 4, 1)]
            ys, yz = np.float32(0.05), qrand(rng, dt, ())
            scl = [ys, np.float32(0.013 + rng.random() * 0.1), np.float32(0.2)]
            zps = [yz, qrand(rng, dt, ()), qrand(rng, dt, ())]
            inits = [("ys", f32(ys)), ("yz", yz)]
            ins = ["ys", "yz"]
            for i in range(3):
                inits += [(f"s{i}", f32(scl[i])), (f"z{i}", zps[i])]
                ins += [f"x{i}", f"s{i}", f"z{i}"]
            emit(f"qlinearconcat_{np.dtype(dt).name}_s{seed}", [ms_node("QLinearConcat", ins, ["y"], axis=1)],
                 [(f"x{i}", xs[i]) for i in range(3)], inits, ["y"], ms=True)
    # every byte value requantized with a tie-prone ratio
    for dt in [np.uint8, np.int8]:
        x0 = np.arange(*((0, 256) if dt == np.uint8 else (-128, 128))).astype(dt).reshape(1, 256)
        x1 = x0[:, ::-1].copy()
        inits = [("ys", f32(0.5)), ("yz", np.array(1, dt)), ("s0", f32(0.25)), ("z0", np.array(3, dt)),
                 ("s1", f32(0.75)), ("z1", np.array(-2 if dt == np.int8 else 200, dt))]
        emit(f"qlinearconcat_{np.dtype(dt).name}_ties",
             [ms_node("QLinearConcat", ["ys", "yz", "x0", "s0", "z0", "x1", "s1", "z1"], ["y"], axis=-1)],
             [("x0", x0), ("x1", x1)], inits, ["y"], ms=True)


def pool_cases():
    configs = [
        ("k3s2p1", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), (1, 3, 7, 7)),
        ("k3s2p1_incl", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1), (1, 3, 7, 7)),
        ("k2s2_ceil", dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1), (2, 2, 5, 7)),
        ("k3s2p1_ceil_incl", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
                                  count_include_pad=1), (1, 2, 6, 6)),
        ("same_upper", dict(kernel_shape=[3, 2], strides=[2, 1], auto_pad="SAME_UPPER"), (1, 2, 5, 6)),
        ("global_fallback", dict(kernel_shape=[4, 5]), (1, 3, 4, 5)),
        ("k1d", dict(kernel_shape=[3], strides=[1], pads=[1, 1]), (2, 3, 9)),
    ]
    for seed in range(2):
        rng = np.random.default_rng(600 + seed)
        for dt in [np.uint8, np.int8]:
            for name, attrs, shape in configs:
                x = qrand(rng, dt, shape)
                xs = np.float32(0.02 + rng.random() * 0.1)
                ys = np.float32(0.01 + rng.random() * 0.1)
                inits = [("xs", f32(xs)), ("xz", qrand(rng, dt, ())), ("ys", f32(ys)), ("yz", qrand(rng, dt, ()))]
                emit(f"qlinearaveragepool_{np.dtype(dt).name}_{name}_s{seed}",
                     [ms_node("QLinearAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], **attrs)], [("x", x)], inits,
                     ["y"], ms=True)
            for shape in [(1, 8, 7, 7), (2, 4, 5, 3), (2, 3, 10)]:
                x = qrand(rng, dt, shape)
                inits = [("xs", f32(0.02 + rng.random() * 0.1)), ("xz", qrand(rng, dt, ())),
                         ("ys", f32(0.005 + rng.random() * 0.05)), ("yz", qrand(rng, dt, ()))]
                emit(f"qlinearglobalaveragepool_{np.dtype(dt).name}_{'x'.join(map(str, shape))}_s{seed}",
                     [ms_node("QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"])], [("x", x)], inits,
                     ["y"], ms=True)
    # ties: mean of 4 with x_scale = y_scale → quarter steps
    rng = np.random.default_rng(650)
    x = qrand(rng, np.uint8, (1, 4, 6, 6))
    inits = [("xs", f32(0.5)), ("xz", np.array(127, np.uint8)), ("ys", f32(0.5)), ("yz", np.array(129, np.uint8))]
    emit("qlinearaveragepool_ties", [ms_node("QLinearAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"],
                                             kernel_shape=[2, 2], strides=[2, 2])], [("x", x)], inits, ["y"], ms=True)
    x = qrand(rng, np.uint8, (1, 4, 2, 2))
    emit("qlinearglobalaveragepool_ties", [ms_node("QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"])],
         [("x", x)], inits, ["y"], ms=True)


def activation_cases():
    for dt in [np.uint8, np.int8]:
        allv = np.arange(*((0, 256) if dt == np.uint8 else (-128, 128))).astype(dt).reshape(4, 64)
        rng = np.random.default_rng(700)
        for i in range(4):
            xs = np.float32(0.01 + rng.random() * 0.2)
            ys = np.float32(1.0 / 256 if i % 2 == 0 else 0.003 + rng.random() * 0.01)
            xz = qrand(rng, dt, ())
            yz = np.array(0 if dt == np.uint8 else -128, dt) if i % 2 == 0 else qrand(rng, dt, ())
            inits = [("xs", f32(xs)), ("xz", xz), ("ys", f32(ys)), ("yz", yz)]
            emit(f"qlinearsigmoid_{np.dtype(dt).name}_{i}", [ms_node("QLinearSigmoid", ["x", "xs", "xz", "ys", "yz"], ["y"])],
                 [("x", allv)], inits, ["y"], ms=True)
            alpha = [0.01, 0.1, 0.2, 0.333][i]
            inits = [("xs", f32(xs)), ("xz", xz), ("ys", f32(xs * np.float32(0.7))), ("yz", qrand(rng, dt, ()))]
            emit(f"qlinearleakyrelu_{np.dtype(dt).name}_{i}",
                 [ms_node("QLinearLeakyRelu", ["x", "xs", "xz", "ys", "yz"], ["y"], alpha=alpha)], [("x", allv)], inits,
                 ["y"], ms=True)


# ---- cases chosen where ORT's rule and a plausible alternative disagree -----------------------------

def fma32(a, b, c):
    """fp32 fused multiply-add, emulated through float64 (a·b is exact there; the final double
    rounding is close enough for choosing parameters — ORT itself is the judge)."""
    return (np.float64(a) * np.float64(b) + np.float64(c)).astype(np.float32)


def mlas_logistic_np(x):
    x = np.clip(np.asarray(x, np.float32), np.float32(-18), np.float32(18))
    x2 = (x * x).astype(np.float32)
    a = [4.37031012579801e-11, 1.15627324459942e-07, 6.08574864600143e-05, 8.51377133304701e-03, 2.48287947061529e-01]
    b = [6.10247389755681e-13, 5.76102136993427e-09, 6.29106785017040e-06, 1.70198817374094e-03, 1.16817656904453e-01,
         9.93151921023180e-01]
    p = fma32(x2, np.float32(a[0]), np.float32(a[1]))
    for c in a[2:]:
        p = fma32(x2, p, np.float32(c))
    p = (x * p).astype(np.float32)
    q = fma32(x2, np.float32(b[0]), np.float32(b[1]))
    for c in b[2:]:
        q = fma32(x2, q, np.float32(c))
    return np.maximum((p / q).astype(np.float32) + np.float32(0.5), np.float32(0))


def qladd_np(a, b, sa, za, sb, zb, sc, zc, swapped):
    """ORT's 8-bit QLinearAdd (numerics.md §5.1), fp32 with emulated FMA."""
    ra, rb = np.float32(sa / sc), np.float32(sb / sc)
    za, zb, zc = np.float32(za), np.float32(zb), np.float32(zc)
    a, b = a.astype(np.float32), b.astype(np.float32)
    if swapped:
        f = np.float32(zc - fma32(rb, zb, np.float32(ra * za)))
        return np.rint(fma32(b, rb, fma32(a, ra, f)))
    f = np.float32(zc - fma32(ra, za, np.float32(rb * zb)))
    return np.rint(fma32(a, ra, fma32(b, rb, f)))


def discriminating_cases():
    # QLinearAdd with A broadcast along the innermost axis: ORT swaps the operands, which changes
    # the fused products. Every a value against 24 b values, scales where the two orders disagree.
    for dt in [np.uint8, np.int8]:
        lo, hi = RANGE[dt]
        a = np.arange(lo, hi + 1).astype(dt).reshape(256, 1)
        b = np.random.default_rng(830).integers(lo, hi + 1, size=(1, 24)).astype(dt)

        def propose(rng):
            return (np.float32(0.01 + rng.random() * 0.2), int(rng.integers(lo, hi + 1)),
                    np.float32(0.01 + rng.random() * 0.2), int(rng.integers(lo, hi + 1)),
                    np.float32(0.01 + rng.random() * 0.2), int(rng.integers(lo, hi + 1)))

        def differs(c):
            r1 = np.clip(qladd_np(a, b, *c, swapped=True), lo, hi)
            r2 = np.clip(qladd_np(a, b, *c, swapped=False), lo, hi)
            return bool((r1 != r2).any())

        for i, (sa, za, sb, zb, sc, zc) in enumerate(search(np.random.default_rng(831), 400, 2, propose, differs)):
            inits = [("as", f32(sa)), ("az", np.array(za, dt)), ("bs", f32(sb)), ("bz", np.array(zb, dt)),
                     ("cs", f32(sc)), ("cz", np.array(zc, dt))]
            node = ms_node("QLinearAdd", ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["y"])
            emit(f"qlinearadd_{np.dtype(dt).name}_swapped_operands_{i}", [node], [("a", a), ("b", b)], inits, ["y"],
                 ms=True)

    # Sigmoid: ORT's FMA rational approximation against 1/(1 + e^-x)
    for dt in [np.uint8, np.int8]:
        lo, hi = RANGE[dt]
        allv = np.arange(lo, hi + 1).astype(dt)

        def propose(rng):
            return (np.float32(0.01 + rng.random() * 0.3), int(rng.integers(lo, hi + 1)),
                    np.float32([1 / 256, 1 / 255, 0.0039, 0.0045][rng.integers(0, 4)]), int(rng.integers(lo, lo + 40)))

        def differs(c):
            xs, xz, ys, yz = c
            d = (xs * (allv.astype(np.int64) - xz).astype(np.float32)).astype(np.float32)
            exact = (np.float32(1) / (np.float32(1) + np.exp(-d))).astype(np.float32)
            return bool((quantize_np(exact, ys, yz, dt) != quantize_np(mlas_logistic_np(d), ys, yz, dt)).any())

        for i, (xs, xz, ys, yz) in enumerate(search(np.random.default_rng(800), 3000, 2, propose, differs)):
            inits = [("xs", f32(xs)), ("xz", np.array(xz, dt)), ("ys", f32(ys)), ("yz", np.array(yz, dt))]
            emit(f"qlinearsigmoid_{np.dtype(dt).name}_vs_formula_{i}",
                 [ms_node("QLinearSigmoid", ["x", "xs", "xz", "ys", "yz"], ["y"])], [("x", allv.reshape(16, 16))], inits,
                 ["y"], ms=True)

    # Concat: Q(DQ(x)) against one multiply by the ratio s_x/s_y
    for dt in [np.uint8, np.int8]:
        lo, hi = RANGE[dt]
        allv = np.arange(lo, hi + 1).astype(dt)

        def propose(rng):
            return (np.float32(0.005 + rng.random() * 0.2), int(rng.integers(lo, hi + 1)),
                    np.float32(0.005 + rng.random() * 0.2), int(rng.integers(lo, hi + 1)))

        def differs(c):
            xs, xz, ys, yz = c
            d = (xs * (allv.astype(np.int64) - xz).astype(np.float32)).astype(np.float32)
            r = np.float32(xs / ys)
            f = (r * (allv.astype(np.int64) - xz).astype(np.float32)).astype(np.float32)
            return bool((quantize_np(d, ys, yz, dt) != (np.rint(np.clip(f, lo - yz, hi - yz)) + yz)).any())

        for i, (xs, xz, ys, yz) in enumerate(search(np.random.default_rng(810), 3000, 2, propose, differs)):
            inits = [("ys", f32(ys)), ("yz", np.array(yz, dt)), ("s0", f32(xs)), ("z0", np.array(xz, dt)),
                     ("s1", f32(ys)), ("z1", np.array(yz, dt))]
            emit(f"qlinearconcat_{np.dtype(dt).name}_vs_ratio_{i}",
                 [ms_node("QLinearConcat", ["ys", "yz", "x0", "s0", "z0", "x1", "s1", "z1"], ["y"], axis=0)],
                 [("x0", allv), ("x1", allv[::3].copy())], inits, ["y"], ms=True)

    # Global average pool: multiplier fl(s_x / fl(s_y·N)) against fl(fl(s_x/s_y)/N)
    for dt in [np.uint8, np.int8]:
        lo, hi = RANGE[dt]

        def propose(rng):
            n = [4, 6, 9, 10, 12, 25][rng.integers(0, 6)]
            ys = np.float32(0.01 + rng.random() * 0.2)
            xs = np.float32(ys * np.float32(n) * np.float32([0.5, 0.25, 1.5, 0.75][rng.integers(0, 4)]))
            x = rng.integers(lo, hi + 1, size=(1, 32, 1, n)).astype(dt)
            return xs, int(rng.integers(lo, hi + 1)), ys, int(rng.integers(lo, hi + 1)), x

        def differs(c):
            xs, xz, ys, yz, x = c
            n = x.shape[-1]
            acc = (x.astype(np.int64) - xz).sum(-1).astype(np.float32)
            m_ort = np.float32(xs / np.float32(ys * np.float32(n)))
            m_alt = np.float32(np.float32(xs / ys) / np.float32(n))
            q = lambda m: np.rint(np.clip((acc * m).astype(np.float32), lo - yz, hi - yz))
            return bool((q(m_ort) != q(m_alt)).any())

        for i, (xs, xz, ys, yz, x) in enumerate(search(np.random.default_rng(820), 3000, 2, propose, differs)):
            inits = [("xs", f32(xs)), ("xz", np.array(xz, dt)), ("ys", f32(ys)), ("yz", np.array(yz, dt))]
            emit(f"qlinearglobalaveragepool_{np.dtype(dt).name}_vs_order_{i}",
                 [ms_node("QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"])], [("x", x)], inits, ["y"],
                 ms=True)


def main():
    global OUT
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    OUT = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    quantize_cases()
    qlinearconv_cases()
    convinteger_cases()
    matmul_cases()
    qgemm_cases()
    binary_cases()
    concat_cases()
    pool_cases()
    activation_cases()
    discriminating_cases()
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(CASES) + "\n")
    print(f"{len(CASES)} cases written to {OUT} (onnxruntime {ort.__version__})")


if __name__ == "__main__":
    main()
