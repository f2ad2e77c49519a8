#!/usr/bin/env python3
"""Makes the small .onnx files that tests/onnx/test_proto.cpp reads to cross-check qnn's protobuf
reader against the reference writer (the Python `onnx` package and its helper API).

    .venv/bin/python tests/data/onnx/make_proto_cases.py   # rewrites the files next to this script

The files are committed; rerun this script only to change them, then update the expected values in
test_proto.cpp. Every tensor's storage field is asserted here, so the C++ test really covers
float_data, int32_data (with int8/uint8/int16/uint16/bool/float16/bfloat16 packing), int64_data,
double_data, uint64_data and raw_data as it claims.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))


def storage(t):
    """The one field of a TensorProto that holds its data."""
    used = [f for f in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data")
            if len(getattr(t, f))]
    if t.HasField("raw_data"):
        used.append("raw_data")
    assert len(used) <= 1, (t.name, used)
    return used[0] if used else None


def typed_fields_model():
    T = TensorProto
    inits = [
        (helper.make_tensor("f32_typed", T.FLOAT, [2, 3], [0.0, 1.5, -2.0, 3.25, 0.1, -0.0]),
         "float_data"),
        (helper.make_tensor("f32_raw", T.FLOAT, [2],
                            np.array([1.0, -0.5], np.float32).tobytes(), raw=True), "raw_data"),
        (helper.make_tensor("i8_typed", T.INT8, [3], [-128, 1, 127]), "int32_data"),
        (helper.make_tensor("u8_typed", T.UINT8, [2], [0, 255]), "int32_data"),
        (helper.make_tensor("i16_typed", T.INT16, [2], [-32768, 32767]), "int32_data"),
        (helper.make_tensor("u16_typed", T.UINT16, [2], [0, 65535]), "int32_data"),
        (helper.make_tensor("bool_typed", T.BOOL, [3], [True, False, True]), "int32_data"),
        (helper.make_tensor("f16_typed", T.FLOAT16, [4], [1.5, -2.0, 65504.0, 2.0 ** -24]),
         "int32_data"),
        (helper.make_tensor("bf16_typed", T.BFLOAT16, [2], [1.5, -2.0]), "int32_data"),
        (helper.make_tensor("i32_typed", T.INT32, [2], [-2147483648, 7]), "int32_data"),
        (helper.make_tensor("i64_typed", T.INT64, [2, 2], [-1, 0, 2 ** 40, -(2 ** 63)]),
         "int64_data"),
        (helper.make_tensor("f64_typed", T.DOUBLE, [1], [0.1]), "double_data"),
        (helper.make_tensor("u32_typed", T.UINT32, [1], [4000000000]), "uint64_data"),
        (helper.make_tensor("u64_typed", T.UINT64, [1], [2 ** 64 - 1]), "uint64_data"),
        (helper.make_tensor("i8_raw", T.INT8, [2],
                            np.array([-1, 2], np.int8).tobytes(), raw=True), "raw_data"),
        (helper.make_tensor("scalar_f32", T.FLOAT, [], [42.0]), "float_data"),
        (helper.make_tensor("empty_f32", T.FLOAT, [0], []), None),
    ]
    for t, field in inits:
        assert storage(t) == field, (t.name, storage(t), field)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["X"], ["Y"], name="id")],
        "typed_fields",
        inputs=[
            helper.make_tensor_value_info("X", T.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("Z", T.INT8, None),  # rank unknown
        ],
        outputs=[helper.make_tensor_value_info("Y", T.FLOAT, [None, 3])],  # first dim unknown
        initializer=[t for t, _ in inits],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8,
                             producer_name="make_proto_cases.py")


def attributes_model():
    T = TensorProto
    then_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["then_out"], name="then_const",
                          value=helper.make_tensor("then_value", T.FLOAT, [1], [1.0]))],
        "then_branch", [], [helper.make_tensor_value_info("then_out", T.FLOAT, [1])])
    else_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["else_out"], name="else_const",
                          value=helper.make_tensor("else_value", T.FLOAT, [1], [-1.0]))],
        "else_branch", [], [helper.make_tensor_value_info("else_out", T.FLOAT, [1])])
    # A subgraph that itself holds an If: two levels of nesting.
    nested_graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["nested_out"], name="inner_if",
                          then_branch=then_graph, else_branch=else_graph)],
        "nested", [], [helper.make_tensor_value_info("nested_out", T.FLOAT, [1])])

    every_kind = helper.make_node(
        "EveryAttribute", ["X"], ["W"], name="every", domain="test.qnn",
        f=0.25, i=-7, s=b"hello", t=helper.make_tensor("t_attr", T.INT64, [2], [5, -6]),
        g=nested_graph, floats=[1.0, -0.5], ints=[1, -2, 3], strings=[b"a", b"bc"],
        tensors=[helper.make_tensor("ta", T.INT8, [1], [-3]),
                 helper.make_tensor("tb", T.FLOAT, [2], [0.5, 0.75])],
        graphs=[then_graph, else_graph])
    for a in every_kind.attribute:
        if a.HasField("t"):
            assert storage(a.t) == "int64_data"
    zero_valued = helper.make_node("ZeroValued", [], ["V"], name="zeros", domain="test.qnn",
                                   zf=0.0, zi=0, zs=b"")
    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["Y"], name="outer_if",
                          then_branch=then_graph, else_branch=else_graph),
         every_kind, zero_valued],
        "attributes",
        inputs=[helper.make_tensor_value_info("cond", T.BOOL, []),
                helper.make_tensor_value_info("X", T.FLOAT, [1])],
        outputs=[helper.make_tensor_value_info("Y", T.FLOAT, [1]),
                 helper.make_tensor_value_info("W", T.FLOAT, [1]),
                 helper.make_tensor_value_info("V", T.FLOAT, [1])])
    model = helper.make_model(
        graph, ir_version=8, producer_name="make_proto_cases.py", producer_version="1.0",
        domain="ai.qnn.test", model_version=7, doc_string="every attribute type",
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("test.qnn", 1)])
    helper.set_model_props(model, {"purpose": "qnn proto test"})
    return model


def local_function_model():
    T = TensorProto
    fn = helper.make_function(
        "test.qnn", "Double", ["x"], ["y"], [helper.make_node("Add", ["x", "x"], ["y"])],
        opset_imports=[helper.make_opsetid("", 17)])
    graph = helper.make_graph(
        [helper.make_node("Double", ["X"], ["Y"], name="call_double", domain="test.qnn")],
        "local_function",
        [helper.make_tensor_value_info("X", T.FLOAT, [2])],
        [helper.make_tensor_value_info("Y", T.FLOAT, [2])])
    model = helper.make_model(
        graph, ir_version=8, functions=[fn],
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("test.qnn", 1)])
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    for name, model in [("typed_fields.onnx", typed_fields_model()),
                        ("attributes.onnx", attributes_model()),
                        ("local_function.onnx", local_function_model())]:
        path = os.path.join(HERE, name)
        onnx.save(model, path)
        size = os.path.getsize(path)
        assert size < 20 * 1024, (name, size)
        print(f"{path}: {size} bytes")


if __name__ == "__main__":
    main()
