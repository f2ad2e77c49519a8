// Tests of the ONNX protobuf reader and writer (include/qnn/onnx/).
//
//   wire format   hand-built bytes for every wire type and every wire-level error
//   hostile input tensor consistency, external data, negative dims, overflow, nesting depth, ...
//   cross-check   tests/data/onnx/*.onnx written by the Python onnx helper API
//                 (make_proto_cases.py), with exact expected values
//   conformance   every ONNX 1.12 node-test model and .pb tensor in /usr/share/libonnx-testdata
//   round trip    parse -> serialize -> parse gives equal structs, and serialize is idempotent
//   Python        a model written by save_model passes onnx.checker and runs in ONNX Runtime, and
//                 every conformance tensor decodes to the same bytes as onnx.numpy_helper
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "qnn/onnx/proto.hpp"
#include "qnn/onnx/wire.hpp"

namespace {

namespace fs = std::filesystem;
using qnn::onnx::AttributeProto;
using qnn::onnx::AttributeType;
using qnn::onnx::DataType;
using qnn::onnx::Dimension;
using qnn::onnx::DimKind;
using qnn::onnx::GraphProto;
using qnn::onnx::ModelProto;
using qnn::onnx::NodeProto;
using qnn::onnx::TensorProto;
using qnn::onnx::TypeKind;
using qnn::onnx::ValueInfoProto;
using qnn::onnx::wire::Field;
using qnn::onnx::wire::Reader;
using qnn::onnx::wire::WireType;
using qnn::onnx::wire::Writer;
using Bytes = std::vector<std::byte>;

Bytes bytes_of(std::initializer_list<int> values) {
  Bytes b;
  for (const int v : values) b.push_back(static_cast<std::byte>(v));
  return b;
}

// The message of the qnn::error `f` throws, or "<no error>".
template <class F>
doctest::String error_of(F&& f) {
  try {
    f();
  } catch (const qnn::error& e) {
    return doctest::String(e.what());
  }
  return "<no error>";
}

const fs::path data_dir = fs::path(QNN_TEST_DATA_DIR) / "onnx";
const fs::path conformance_dir = "/usr/share/libonnx-testdata/data/node";
const fs::path python = fs::path(QNN_SOURCE_DIR) / ".venv" / "bin" / "python";

// ---- message builders for hostile-input tests -------------------------------------------------

// A TensorProto with the given fields; `extra` runs last to add whatever the test needs.
template <class Extra>
Bytes tensor_message(const std::vector<std::int64_t>& dims, DataType type, const std::string& name,
                     Extra&& extra) {
  Bytes out;
  Writer w(out);
  for (const std::int64_t d : dims) w.write_int64(1, d);
  w.write_int64(2, static_cast<std::int32_t>(type));
  w.write_string(8, name);
  extra(w);
  return out;
}

Bytes model_with_graph(const Bytes& graph) {
  Bytes out;
  Writer w(out);
  w.write_int64(1, 8);
  w.write_message(7, graph);
  return out;
}

// A graph nested `levels` deep: each level has one node whose attribute `g` is the next graph.
Bytes nested_graph(int levels) {
  Bytes graph;
  {
    Writer w(graph);
    w.write_string(2, "leaf");
  }
  for (int k = 0; k < levels; ++k) {
    Bytes attribute;
    Writer aw(attribute);
    aw.write_string(1, "body");
    aw.write_message(6, graph);
    aw.write_int64(20, 5);
    Bytes node;
    Writer nw(node);
    nw.write_string(4, "If");
    nw.write_message(5, attribute);
    Bytes outer;
    Writer gw(outer);
    gw.write_message(1, node);
    graph = outer;
  }
  return graph;
}

// CRC-32 (IEEE, reflected, polynomial 0xEDB88320), the value Python's zlib.crc32 gives.
std::uint32_t crc32(std::span<const std::byte> data) {
  std::uint32_t crc = 0xffffffffu;
  for (const std::byte b : data) {
    crc ^= std::to_integer<std::uint32_t>(b);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

fs::path unique_temp_dir(const std::string& stem) {
  std::random_device rd;
  const fs::path dir = fs::temp_directory_path() / (stem + "_" + std::to_string(rd()));
  fs::create_directories(dir);
  return dir;
}

int run_python(const fs::path& script, const std::string& args) {
  const std::string command = "'" + python.string() + "' '" + script.string() + "' " + args;
  return std::system(command.c_str());
}

}  // namespace

// =============================================================================================
TEST_SUITE("onnx.wire") {

TEST_CASE("varints decode in base 128, least significant group first") {
  const Bytes b = bytes_of({0x00, 0x01, 0x7f, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                            0xff, 0xff, 0x01});
  Reader r(b);
  CHECK(r.read_varint() == 0);
  CHECK(r.read_varint() == 1);
  CHECK(r.read_varint() == 127);
  CHECK(r.read_varint() == 300);
  CHECK(r.read_varint() == std::numeric_limits<std::uint64_t>::max());
  CHECK(r.at_end());
}

TEST_CASE("varint errors name the offset where the varint starts") {
  SUBCASE("truncated") {
    const Bytes b = bytes_of({0x01, 0x02, 0x03, 0x80, 0x80});
    Reader r(b);
    r.read_varint();
    r.read_varint();
    r.read_varint();
    CHECK(error_of([&] { r.read_varint(); }) == "onnx: truncated varint at offset 3");
  }
  SUBCASE("empty input") {
    Reader r(std::span<const std::byte>{});
    CHECK(error_of([&] { r.read_varint(); }) == "onnx: truncated varint at offset 0");
  }
  SUBCASE("overlong: eleven bytes") {
    const Bytes b = bytes_of({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00});
    Reader r(b);
    CHECK(error_of([&] { r.read_varint(); }) ==
          doctest::Contains("overlong varint (more than 10 bytes) at offset 0"));
  }
  SUBCASE("overflow: tenth byte above 1") {
    const Bytes b = bytes_of({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02});
    Reader r(b);
    CHECK(error_of([&] { r.read_varint(); }) == "onnx: varint overflows 64 bits at offset 0");
  }
  SUBCASE("offsets inside nested messages are absolute") {
    // field 1, len 3, payload {0x08 (tag field 1 varint), 0x80, 0x80}: truncated at offset 3.
    const Bytes b = bytes_of({0x0a, 0x03, 0x08, 0x80, 0x80});
    Reader r(b);
    const Field f = r.read_field();
    Reader sub = r.read_message(f);
    const Field g = sub.read_field();
    CHECK(g.offset == 2);
    CHECK(error_of([&] { sub.read_int64(g); }) == "onnx: truncated varint at offset 3");
  }
}

TEST_CASE("fixed32 and fixed64 are little-endian") {
  const Bytes b =
      bytes_of({0x78, 0x56, 0x34, 0x12, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01});
  Reader r(b);
  CHECK(r.read_fixed32() == 0x12345678u);
  CHECK(r.read_fixed64() == 0x0102030405060708ull);
  CHECK(error_of([&] { r.read_fixed32(); }) == doctest::Contains("truncated fixed32 at offset 12"));
}

TEST_CASE("tags: field number and wire type; groups and invalid types are rejected") {
  SUBCASE("each wire type is read and skipped") {
    Bytes b;
    Writer w(b);
    w.write_int64(1, -1);         // varint, 10 bytes
    w.write_double(2, 2.5);       // fixed64
    w.write_string(3, "abc");     // len
    w.write_float(4, 1.0f);       // fixed32
    w.write_uint64(536870911, 7); // largest field number
    Reader r(b);
    const std::array<WireType, 5> types = {WireType::varint, WireType::i64, WireType::len,
                                           WireType::i32, WireType::varint};
    for (const WireType t : types) {
      const Field f = r.read_field();
      CHECK(f.type == t);
      r.skip(f);
    }
    CHECK(r.at_end());
  }
  SUBCASE("start group") {
    const Bytes b = bytes_of({0x0b});  // field 1, wire type 3
    Reader r(b);
    CHECK(error_of([&] { r.read_field(); }) == doctest::Contains("is a group (wire type 3)"));
  }
  SUBCASE("end group") {
    const Bytes b = bytes_of({0x00, 0x14});  // field 2, wire type 4, after a 0 byte we skip
    Reader r(b, 100);
    r.read_varint();
    CHECK(error_of([&] { r.read_field(); }) ==
          doctest::Contains(
              "field 2 is a group (wire type 4), which onnx.proto never uses, at offset 101"));
  }
  SUBCASE("wire types 6 and 7") {
    for (const int t : {6, 7}) {
      const Bytes b = bytes_of({0x08 | t});
      Reader r(b);
      CHECK(error_of([&] { r.read_field(); }) == doctest::Contains("invalid wire type"));
    }
  }
  SUBCASE("field number 0") {
    const Bytes b = bytes_of({0x00});
    Reader r(b);
    CHECK(error_of([&] { r.read_field(); }) == "onnx: field number 0 at offset 0");
  }
  SUBCASE("tag wider than 32 bits") {
    const Bytes b = bytes_of({0x80, 0x80, 0x80, 0x80, 0x10});
    Reader r(b);
    CHECK(error_of([&] { r.read_field(); }) == doctest::Contains("does not fit 32 bits"));
  }
  SUBCASE("wire type that does not match the field") {
    const Bytes b = bytes_of({0x08, 0x01});  // field 1 as varint
    Reader r(b);
    const Field f = r.read_field();
    CHECK(error_of([&] { r.read_string(f); }) ==
          "onnx: field 1 at offset 0 has wire type varint, expected length-delimited");
  }
}

TEST_CASE("length-delimited fields are checked against the remaining bytes") {
  SUBCASE("length past the end") {
    const Bytes b = bytes_of({0x0a, 0x05, 'a', 'b'});
    Reader r(b);
    const Field f = r.read_field();
    CHECK(error_of([&] { r.read_string(f); }) ==
          "onnx: length 5 at offset 1 runs past the end (2 bytes left)");
  }
  SUBCASE("absurd length does not allocate") {
    // A length of 2^62 must fail on the check, before any allocation.
    const Bytes b = bytes_of({0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40});
    Reader r(b);
    const Field f = r.read_field();
    CHECK(error_of([&] { r.read_string(f); }) == doctest::Contains("runs past the end"));
  }
  SUBCASE("skipping a truncated field") {
    const Bytes b = bytes_of({0x1a, 0x09, 0x00});
    Reader r(b);
    const Field f = r.read_field();
    CHECK(error_of([&] { r.skip(f); }) == doctest::Contains("runs past the end"));
  }
}

TEST_CASE("repeated scalars are accepted packed and unpacked") {
  Bytes b;
  Writer w(b);
  w.write_int64(1, 5);
  w.write_packed_int64(1, std::vector<std::int64_t>{-1, 300});
  w.write_int64(1, 7);
  w.write_packed_float(2, std::vector<float>{1.5f, -2.0f});
  w.write_float(2, 3.0f);
  Reader r(b);
  std::vector<std::int64_t> ints;
  std::vector<float> floats;
  while (!r.at_end()) {
    const Field f = r.read_field();
    if (f.number == 1) r.read_repeated_int64(f, ints);
    if (f.number == 2) r.read_repeated_float(f, floats);
  }
  CHECK(ints == std::vector<std::int64_t>{5, -1, 300, 7});
  CHECK(floats == std::vector<float>{1.5f, -2.0f, 3.0f});

  SUBCASE("packed floats must fill whole elements") {
    const Bytes bad = bytes_of({0x12, 0x05, 0, 0, 0, 0, 0});
    Reader rb(bad);
    const Field f = rb.read_field();
    std::vector<float> out;
    CHECK(error_of([&] { rb.read_repeated_float(f, out); }) ==
          doctest::Contains("has 5 bytes, not a multiple of 4"));
  }
  SUBCASE("a packed varint may not run past its field") {
    const Bytes bad = bytes_of({0x0a, 0x01, 0x80, 0x01});
    Reader rb(bad);
    const Field f = rb.read_field();
    std::vector<std::int64_t> out;
    CHECK(error_of([&] { rb.read_repeated_int64(f, out); }) ==
          "onnx: truncated varint at offset 2");
  }
}

TEST_CASE("int32 fields must hold int32 values; negatives are sign-extended") {
  Bytes b;
  Writer w(b);
  w.write_int64(1, -5);                  // how protobuf writes int32 -5: 10 bytes
  w.write_int64(1, std::int64_t{1} << 40);
  CHECK(b.size() == 1 + 10 + 1 + 6);
  Reader r(b);
  const Field f1 = r.read_field();
  CHECK(r.read_int32(f1) == -5);
  const Field f2 = r.read_field();
  CHECK(error_of([&] { r.read_int32(f2); }) == doctest::Contains("does not fit int32"));
}

TEST_CASE("writer encodings") {
  Bytes b;
  Writer w(b);
  w.write_varint(300);
  w.write_tag(5, WireType::i32);
  w.write_fixed32(0x01020304u);
  CHECK(b == bytes_of({0xac, 0x02, 0x2d, 0x04, 0x03, 0x02, 0x01}));
}

}  // TEST_SUITE onnx.wire

// =============================================================================================
TEST_SUITE("onnx.proto.hostile") {

TEST_CASE("tensor data size must match dims") {
  SUBCASE("raw_data too short") {
    const Bytes b = tensor_message({2, 2}, DataType::float32, "w", [](Writer& w) {
      w.write_bytes(9, Bytes(12));
    });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) ==
          "onnx: tensor 'w' has 12 bytes of raw_data, but its dims describe 4 elements of 4 bytes");
  }
  SUBCASE("float_data count") {
    const Bytes b = tensor_message({3}, DataType::float32, "w", [](Writer& w) {
      w.write_packed_float(4, std::vector<float>{1, 2});
    });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) ==
          doctest::Contains("tensor 'w' has 2 values in float_data"));
  }
  SUBCASE("no data at all") {
    const Bytes b = tensor_message({std::int64_t{1} << 40}, DataType::float32, "w", [](Writer&) {});
    CHECK(
        error_of([&] { qnn::onnx::parse_tensor(b); }) ==
        doctest::Contains("tensor 'w' has no data, but its dims describe 1099511627776 elements"));
  }
  SUBCASE("huge dims with a little data: no allocation from dims") {
    const Bytes b = tensor_message({std::int64_t{1} << 40}, DataType::int64, "w", [](Writer& w) {
      w.write_packed_int64(7, std::vector<std::int64_t>{1, 2, 3});
    });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) ==
          doctest::Contains("has 3 values in int64_data"));
  }
  SUBCASE("element count overflows") {
    const Bytes b = tensor_message({std::int64_t{1} << 62, std::int64_t{1} << 62}, DataType::uint8,
                                   "w", [](Writer&) {});
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) ==
          doctest::Contains("tensor 'w' has too many elements"));
  }
  SUBCASE("byte size overflows") {
    const Bytes b = tensor_message({std::int64_t{1} << 62}, DataType::float64, "w", [](Writer&) {});
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) ==
          doctest::Contains("byte size overflows"));
  }
  SUBCASE("zero elements, no data: fine") {
    const Bytes b = tensor_message({4, 0}, DataType::float32, "w", [](Writer&) {});
    const TensorProto t = qnn::onnx::parse_tensor(b);
    CHECK(t.dims == std::vector<std::int64_t>{4, 0});
    CHECK(t.data.empty());
  }
}

TEST_CASE("negative dims are rejected") {
  const Bytes b = tensor_message({2, -1}, DataType::float32, "neg", [](Writer&) {});
  CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) ==
        "onnx: tensor 'neg' has negative dimension -1 at index 1");

  Bytes dim, shape, tensor_type, type, value_info, graph;
  Writer(dim).write_int64(1, -3);
  Writer(shape).write_message(1, dim);
  Writer(tensor_type).write_message(2, shape);
  Writer(type).write_message(1, tensor_type);
  Writer vw(value_info);
  vw.write_string(1, "x");
  vw.write_message(2, type);
  Writer(graph).write_message(11, value_info);
  CHECK(error_of([&] { qnn::onnx::parse_model(model_with_graph(graph)); }) ==
        "onnx: value 'x' has negative dimension -3 at index 0");
}

TEST_CASE("external data, segments, strings and sparse tensors are refused by name") {
  SUBCASE("data_location = EXTERNAL") {
    const Bytes b =
        tensor_message({1}, DataType::float32, "x", [](Writer& w) { w.write_int64(14, 1); });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) ==
          doctest::Contains("onnx: tensor 'x' uses external data, which qnn does not load"));
  }
  SUBCASE("external_data entries") {
    const Bytes b = tensor_message({1}, DataType::float32, "x", [](Writer& w) {
      Bytes entry;
      Writer ew(entry);
      ew.write_string(1, "location");
      ew.write_string(2, "weights.bin");
      w.write_message(13, entry);
    });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) ==
          doctest::Contains("tensor 'x' uses external data, which qnn does not load"));
  }
  SUBCASE("segment") {
    const Bytes b = tensor_message({1}, DataType::float32, "x", [](Writer& w) {
      w.write_message(3, bytes_of({0x08, 0x00, 0x10, 0x01}));
      w.write_packed_float(4, std::vector<float>{1});
    });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) == doctest::Contains("is a segment"));
  }
  SUBCASE("string tensor") {
    const Bytes b =
        tensor_message({1}, DataType::string, "s", [](Writer& w) { w.write_string(6, "hi"); });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) ==
          doctest::Contains("tensor 's' holds strings, which qnn does not support"));
  }
  SUBCASE("sparse initializer") {
    Bytes graph;
    Writer gw(graph);
    gw.write_string(2, "g");
    gw.write_message(15, Bytes{});
    CHECK(error_of([&] { qnn::onnx::parse_model(model_with_graph(graph)); }) ==
          doctest::Contains("graph 'g' has a sparse initializer"));
  }
  SUBCASE("sparse tensor attribute") {
    Bytes attribute, node, graph;
    Writer aw(attribute);
    aw.write_string(1, "sparse_value");
    aw.write_message(22, Bytes{});
    Writer nw(node);
    nw.write_string(3, "c");
    nw.write_string(4, "Constant");
    nw.write_message(5, attribute);
    Writer(graph).write_message(1, node);
    CHECK(error_of([&] { qnn::onnx::parse_model(model_with_graph(graph)); }) ==
          doctest::Contains(
              "node 'c' (Constant): onnx: attribute 'sparse_value' holds a sparse tensor"));
  }
  SUBCASE("ref_attr_name") {
    Bytes attribute, node, graph;
    Writer aw(attribute);
    aw.write_string(1, "alpha");
    aw.write_string(21, "outer_alpha");
    Writer(node).write_message(5, attribute);
    Writer(graph).write_message(1, node);
    CHECK(error_of([&] { qnn::onnx::parse_model(model_with_graph(graph)); }) ==
          doctest::Contains("attribute 'alpha' refers to function attribute 'outer_alpha'"));
  }
}

TEST_CASE("data types qnn does not decode are named in the error") {
  for (const DataType t : {DataType::int4, DataType::uint4, DataType::float4e2m1,
                           DataType::undefined, static_cast<DataType>(99)}) {
    CAPTURE(t);
    const Bytes b = tensor_message({2}, t, "q", [](Writer& w) { w.write_bytes(9, Bytes(1)); });
    std::ostringstream want;
    want << "tensor 'q' has data type " << t << ", whose data qnn does not decode";
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) == doctest::Contains(want.str().c_str()));
  }
  CHECK(error_of([] { qnn::onnx::require_dtype(DataType::float16, "x"); }) ==
        "onnx: 'x' has data type float16 (10), which qnn does not support");
  CHECK(error_of([] { qnn::onnx::require_dtype(static_cast<DataType>(1000), "y"); }) ==
        doctest::Contains("unknown (1000)"));
}

TEST_CASE("typed fields must suit the data type and fit its range") {
  SUBCASE("int32_data out of range for int8") {
    const Bytes b = tensor_message({2}, DataType::int8, "q", [](Writer& w) {
      w.write_int64(5, 1);
      w.write_int64(5, 300);
    });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) ==
          "onnx: tensor 'q' int32_data[1] = 300 is out of range for data type int8 (3)");
  }
  SUBCASE("bool in int32_data must be 0 or 1") {
    const Bytes b =
        tensor_message({1}, DataType::boolean, "b", [](Writer& w) { w.write_int64(5, 2); });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) == doctest::Contains("out of range"));
  }
  SUBCASE("bool in raw_data must be 0 or 1") {
    const Bytes b = tensor_message({2}, DataType::boolean, "b", [](Writer& w) {
      w.write_bytes(9, bytes_of({1, 2}));
    });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) ==
          "onnx: tensor 'b' bool element 1 has byte value 2");
  }
  SUBCASE("uint32 in uint64_data") {
    const Bytes b = tensor_message({1}, DataType::uint32, "u", [](Writer& w) {
      w.write_uint64(11, std::uint64_t{1} << 32);
    });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) == doctest::Contains("out of range"));
  }
  SUBCASE("float_data for an int8 tensor") {
    const Bytes b =
        tensor_message({1}, DataType::int8, "q", [](Writer& w) { w.write_float(4, 1.0f); });
    CHECK(
        error_of([&] { qnn::onnx::parse_tensor(b); }) ==
        doctest::Contains("stores its data in float_data, which ONNX does not use for that type"));
  }
  SUBCASE("int64_data for an int32 tensor") {
    const Bytes b =
        tensor_message({1}, DataType::int32, "q", [](Writer& w) { w.write_int64(7, 1); });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) == doctest::Contains("int64_data"));
  }
  SUBCASE("two data fields") {
    const Bytes b = tensor_message({1}, DataType::float32, "q", [](Writer& w) {
      w.write_float(4, 1.0f);
      w.write_bytes(9, Bytes(4));
    });
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) ==
          doctest::Contains("has its data in 2 different fields"));
  }
  SUBCASE("data_type out of int32 range") {
    Bytes b;
    Writer(b).write_int64(2, std::int64_t{1} << 33);
    CHECK(error_of([&] { qnn::onnx::parse_tensor(b); }) == doctest::Contains("does not fit int32"));
  }
}

TEST_CASE("unknown fields of every wire type are skipped") {
  const Bytes b = tensor_message({2}, DataType::int8, "q", [](Writer& w) {
    w.write_uint64(100, 12345);
    w.write_double(101, 1.0);
    w.write_string(102, "future");
    w.write_float(103, 2.0f);
    w.write_string(12, "doc string: skipped");
    w.write_bytes(9, bytes_of({0xff, 0x05}));
  });
  const TensorProto t = qnn::onnx::parse_tensor(b);
  CHECK(t.name == "q");
  CHECK(qnn::onnx::tensor_values<std::int8_t>(t) == std::vector<std::int8_t>{-1, 5});
}

TEST_CASE("graph nesting depth is limited") {
  CHECK_NOTHROW(qnn::onnx::parse_model(model_with_graph(nested_graph(qnn::onnx::max_graph_depth))));
  CHECK(error_of([] {
          qnn::onnx::parse_model(model_with_graph(nested_graph(qnn::onnx::max_graph_depth + 1)));
        }) == doctest::Contains("graphs nested deeper than 32 levels"));
  // A hostile file nesting far deeper fails the same way, long before the stack is in danger.
  CHECK(error_of([] { qnn::onnx::parse_model(model_with_graph(nested_graph(5000))); }) ==
        doctest::Contains("nested deeper"));

  // The writer refuses what the reader would refuse.
  GraphProto g;
  g.name = "leaf";
  for (int k = 0; k <= qnn::onnx::max_graph_depth; ++k) {
    AttributeProto a;
    a.name = "body";
    a.type = AttributeType::graph;
    a.g = g;
    NodeProto n;
    n.op_type = "If";
    n.attribute.push_back(a);
    GraphProto outer;
    outer.node.push_back(n);
    g = outer;
  }
  ModelProto m;
  m.graph = g;
  CHECK(error_of([&] { qnn::onnx::serialize(m); }) == doctest::Contains("nested deeper"));
}

TEST_CASE("truncated and corrupt models fail with an offset, never crash") {
  const ModelProto m = qnn::onnx::load_model(data_dir / "attributes.onnx");
  const Bytes good = qnn::onnx::serialize(m);
  int failures = 0;
  for (std::size_t n = 0; n < good.size(); ++n) {
    const std::span<const std::byte> prefix(good.data(), n);
    try {
      qnn::onnx::parse_model(prefix);
    } catch (const qnn::error& e) {
      ++failures;
      CHECK(std::string(e.what()).find("onnx: ") != std::string::npos);
    }
  }
  // Prefixes that end exactly between two top-level fields are valid (shorter) models.
  CHECK(failures > static_cast<int>(good.size()) / 2);
  // Flip each byte in turn: any outcome but a crash or a foreign exception is acceptable.
  Bytes corrupt = good;
  for (std::size_t k = 0; k < corrupt.size(); ++k) {
    corrupt[k] ^= std::byte{0xa5};
    std::optional<ModelProto> parsed;
    try {
      parsed = qnn::onnx::parse_model(corrupt);
    } catch (const qnn::error&) {
    }
    // What the reader accepts, the writer must write and the reader read back unchanged.
    if (parsed) CHECK(qnn::onnx::parse_model(qnn::onnx::serialize(*parsed)) == *parsed);
    corrupt[k] ^= std::byte{0xa5};
  }
}

TEST_CASE("load errors name the file") {
  CHECK(error_of([] { qnn::onnx::load_model("/nonexistent/model.onnx"); }) ==
        doctest::Contains("file '/nonexistent/model.onnx': cannot open for reading"));
  const fs::path dir = unique_temp_dir("qnn_onnx_load");
  CHECK(error_of([&] { qnn::onnx::load_model(dir); }) ==
        doctest::Contains("cannot open for reading"));
  const fs::path path = dir / "truncated.onnx";
  {
    std::ofstream out(path, std::ios::binary);
    out.write("\x3a\x10\x0a", 3);  // graph field, length 16, 1 byte present
  }
  CHECK(error_of([&] { qnn::onnx::load_model(path); }) ==
        doctest::String(("file '" + path.string() +
                         "': onnx: length 16 at offset 1 runs past the end (1 bytes left)")
                            .c_str()));
  fs::remove_all(dir);
}

}  // TEST_SUITE onnx.proto.hostile

// =============================================================================================
TEST_SUITE("onnx.proto.python") {

// Values below are those make_proto_cases.py writes with the Python onnx helper API.
TEST_CASE("typed_fields.onnx: every storage field decodes to the exact values") {
  const ModelProto m = qnn::onnx::load_model(data_dir / "typed_fields.onnx");
  CHECK(m.ir_version == 8);
  CHECK(m.producer_name == "make_proto_cases.py");
  REQUIRE(m.opset_import.size() == 1);
  CHECK(m.opset_import[0].domain.empty());
  CHECK(m.opset_import[0].version == 17);

  std::map<std::string, TensorProto> init;
  for (const TensorProto& t : m.graph.initializer) init[t.name] = t;
  REQUIRE(init.size() == 17);

  const auto f32 = [](std::uint32_t bits) { return std::bit_cast<float>(bits); };
  CHECK(init["f32_typed"].dims == std::vector<std::int64_t>{2, 3});
  const std::vector<float> f32_typed = qnn::onnx::tensor_values<float>(init["f32_typed"]);
  REQUIRE(f32_typed.size() == 6);
  CHECK(f32_typed[0] == 0.0f);
  CHECK(f32_typed[1] == 1.5f);
  CHECK(f32_typed[2] == -2.0f);
  CHECK(f32_typed[3] == 3.25f);
  CHECK(std::bit_cast<std::uint32_t>(f32_typed[4]) == 0x3dcccccdu);  // 0.1f
  CHECK(std::bit_cast<std::uint32_t>(f32_typed[5]) == 0x80000000u);  // -0.0f
  CHECK(qnn::onnx::tensor_values<float>(init["f32_raw"]) == std::vector<float>{1.0f, -0.5f});
  CHECK(qnn::onnx::tensor_values<std::int8_t>(init["i8_typed"]) ==
        std::vector<std::int8_t>{-128, 1, 127});
  CHECK(qnn::onnx::tensor_values<std::uint8_t>(init["u8_typed"]) ==
        std::vector<std::uint8_t>{0, 255});
  CHECK(qnn::onnx::tensor_values<std::int16_t>(init["i16_typed"]) ==
        std::vector<std::int16_t>{-32768, 32767});
  CHECK(qnn::onnx::tensor_values<std::uint16_t>(init["u16_typed"]) ==
        std::vector<std::uint16_t>{0, 65535});
  CHECK(qnn::onnx::tensor_values<bool>(init["bool_typed"]) == std::vector<bool>{true, false, true});
  CHECK(init["bool_typed"].data == bytes_of({1, 0, 1}));
  // float16 bit patterns 0x3e00 (1.5), 0xc000 (-2), 0x7bff (65504), 0x0001 (2^-24), little-endian.
  CHECK(init["f16_typed"].data_type == DataType::float16);
  CHECK(init["f16_typed"].data == bytes_of({0x00, 0x3e, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00}));
  CHECK(qnn::onnx::tensor_values_f32(init["f16_typed"]) ==
        std::vector<float>{1.5f, -2.0f, 65504.0f, f32(0x33800000u)});
  CHECK(init["bf16_typed"].data == bytes_of({0xc0, 0x3f, 0x00, 0xc0}));
  CHECK(qnn::onnx::tensor_values_f32(init["bf16_typed"]) == std::vector<float>{1.5f, -2.0f});
  CHECK(qnn::onnx::tensor_values<std::int32_t>(init["i32_typed"]) ==
        std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::min(), 7});
  CHECK(init["i64_typed"].dims == std::vector<std::int64_t>{2, 2});
  CHECK(qnn::onnx::tensor_values<std::int64_t>(init["i64_typed"]) ==
        std::vector<std::int64_t>{-1, 0, std::int64_t{1} << 40,
                                  std::numeric_limits<std::int64_t>::min()});
  CHECK(qnn::onnx::tensor_values<double>(init["f64_typed"]) == std::vector<double>{0.1});
  CHECK(qnn::onnx::tensor_values<std::uint32_t>(init["u32_typed"]) ==
        std::vector<std::uint32_t>{4000000000u});
  CHECK(qnn::onnx::tensor_values<std::uint64_t>(init["u64_typed"]) ==
        std::vector<std::uint64_t>{std::numeric_limits<std::uint64_t>::max()});
  CHECK(qnn::onnx::tensor_values<std::int8_t>(init["i8_raw"]) == std::vector<std::int8_t>{-1, 2});
  CHECK(init["scalar_f32"].dims.empty());
  CHECK(qnn::onnx::tensor_values<float>(init["scalar_f32"]) == std::vector<float>{42.0f});
  CHECK(init["empty_f32"].dims == std::vector<std::int64_t>{0});
  CHECK(init["empty_f32"].data.empty());

  CHECK(error_of([&] { qnn::onnx::tensor_values<std::int8_t>(init["u8_typed"]); }) ==
        "onnx: tensor 'u8_typed' has data type uint8 (2), not int8 (3)");

  // Symbolic, unknown and unknown-rank shapes.
  REQUIRE(m.graph.input.size() == 2);
  const ValueInfoProto& x = m.graph.input[0];
  CHECK(x.name == "X");
  CHECK(x.kind == TypeKind::tensor);
  CHECK(x.elem_type == DataType::float32);
  REQUIRE(x.shape.has_value());
  CHECK(*x.shape == std::vector<Dimension>{Dimension::of_param("batch"), Dimension::of_value(3)});
  const ValueInfoProto& z = m.graph.input[1];
  CHECK(z.elem_type == DataType::int8);
  CHECK_FALSE(z.shape.has_value());
  REQUIRE(m.graph.output.size() == 1);
  REQUIRE(m.graph.output[0].shape.has_value());
  CHECK((*m.graph.output[0].shape)[0].kind == DimKind::unknown);
  CHECK((*m.graph.output[0].shape)[1] == Dimension::of_value(3));
}

TEST_CASE("attributes.onnx: every attribute type, nested subgraphs, model metadata") {
  const ModelProto m = qnn::onnx::load_model(data_dir / "attributes.onnx");
  CHECK(m.ir_version == 8);
  CHECK(m.producer_version == "1.0");
  CHECK(m.domain == "ai.qnn.test");
  CHECK(m.model_version == 7);
  CHECK(m.doc_string == "every attribute type");
  REQUIRE(m.opset_import.size() == 2);
  CHECK(m.opset_import[1].domain == "test.qnn");
  CHECK(m.opset_import[1].version == 1);
  REQUIRE(m.metadata_props.size() == 1);
  CHECK(m.metadata_props[0].key == "purpose");
  CHECK(m.metadata_props[0].value == "qnn proto test");

  REQUIRE(m.graph.node.size() == 3);
  const NodeProto& outer_if = m.graph.node[0];
  CHECK(outer_if.op_type == "If");
  CHECK(outer_if.input == std::vector<std::string>{"cond"});
  REQUIRE(outer_if.attribute.size() == 2);
  CHECK(outer_if.attribute[1].name == "then_branch");
  CHECK(outer_if.attribute[1].type == AttributeType::graph);
  REQUIRE(outer_if.attribute[1].g.has_value());
  const GraphProto& then_graph = *outer_if.attribute[1].g;
  CHECK(then_graph.name == "then_branch");
  REQUIRE(then_graph.node.size() == 1);
  CHECK(then_graph.node[0].op_type == "Constant");
  REQUIRE(then_graph.node[0].attribute.size() == 1);
  REQUIRE(then_graph.node[0].attribute[0].t.has_value());
  CHECK(qnn::onnx::tensor_values<float>(*then_graph.node[0].attribute[0].t) ==
        std::vector<float>{1.0f});

  const NodeProto& every = m.graph.node[1];
  CHECK(every.name == "every");
  CHECK(every.domain == "test.qnn");
  std::map<std::string, AttributeProto> attr;
  for (const AttributeProto& a : every.attribute) attr[a.name] = a;
  REQUIRE(attr.size() == 10);
  CHECK(attr["f"].type == AttributeType::float32);
  CHECK(attr["f"].f == 0.25f);
  CHECK(attr["i"].type == AttributeType::int64);
  CHECK(attr["i"].i == -7);
  CHECK(attr["s"].type == AttributeType::string);
  CHECK(attr["s"].s == "hello");
  CHECK(attr["t"].type == AttributeType::tensor);
  REQUIRE(attr["t"].t.has_value());
  CHECK(attr["t"].t->name == "t_attr");
  CHECK(qnn::onnx::tensor_values<std::int64_t>(*attr["t"].t) == std::vector<std::int64_t>{5, -6});
  CHECK(attr["g"].type == AttributeType::graph);
  REQUIRE(attr["g"].g.has_value());
  CHECK(attr["g"].g->name == "nested");
  REQUIRE(attr["g"].g->node.size() == 1);
  const NodeProto& inner_if = attr["g"].g->node[0];
  CHECK(inner_if.name == "inner_if");
  REQUIRE(inner_if.attribute.size() == 2);
  REQUIRE(inner_if.attribute[0].g.has_value());
  CHECK(inner_if.attribute[0].g->name == "else_branch");
  CHECK(attr["floats"].type == AttributeType::floats);
  CHECK(attr["floats"].floats == std::vector<float>{1.0f, -0.5f});
  CHECK(attr["ints"].type == AttributeType::ints);
  CHECK(attr["ints"].ints == std::vector<std::int64_t>{1, -2, 3});
  CHECK(attr["strings"].type == AttributeType::strings);
  CHECK(attr["strings"].strings == std::vector<std::string>{"a", "bc"});
  CHECK(attr["tensors"].type == AttributeType::tensors);
  REQUIRE(attr["tensors"].tensors.size() == 2);
  CHECK(qnn::onnx::tensor_values<std::int8_t>(attr["tensors"].tensors[0]) ==
        std::vector<std::int8_t>{-3});
  CHECK(qnn::onnx::tensor_values<float>(attr["tensors"].tensors[1]) ==
        std::vector<float>{0.5f, 0.75f});
  CHECK(attr["graphs"].type == AttributeType::graphs);
  REQUIRE(attr["graphs"].graphs.size() == 2);
  CHECK(attr["graphs"].graphs[1].name == "else_branch");
  CHECK(attr["graphs"].graphs[1] == inner_if.attribute[0].g.value());

  // Zero-valued attributes are present with their type.
  const NodeProto& zeros = m.graph.node[2];
  REQUIRE(zeros.attribute.size() == 3);
  CHECK(zeros.attribute[0].type == AttributeType::float32);
  CHECK(zeros.attribute[1].type == AttributeType::int64);
  CHECK(zeros.attribute[2].type == AttributeType::string);

  const ModelProto again = qnn::onnx::parse_model(qnn::onnx::serialize(m));
  CHECK(again == m);
}

TEST_CASE("local_function.onnx: a call to a model-local function is refused") {
  CHECK(error_of([] { qnn::onnx::load_model(data_dir / "local_function.onnx"); }) ==
        doctest::Contains(
            "node 'call_double' calls the model-local function 'test.qnn.Double', which "
            "qnn does not inline"));
}

}  // TEST_SUITE onnx.proto.python

// =============================================================================================
TEST_SUITE("onnx.proto.roundtrip") {

TEST_CASE("a model built in C++ round-trips, including NaN attributes and carried functions") {
  ModelProto m;
  m.ir_version = 8;
  m.opset_import = {{"", 17}, {"com.example", 2}};
  m.producer_name = "qnn";
  m.metadata_props = {{"a", "1"}, {"", ""}};
  GraphProto& g = m.graph;
  g.name = "g";
  g.initializer.push_back(qnn::onnx::make_tensor<std::int8_t>("w", {2, 2}, {1, -2, 3, -4}));
  g.initializer.push_back(qnn::onnx::make_tensor<bool>("mask", {3}, {true, false, true}));
  g.initializer.push_back(qnn::onnx::make_tensor<qnn::bf16>("b", {}, {qnn::bf16(1.5f)}));
  g.input.push_back(
      {"x", TypeKind::tensor, DataType::float32,
       std::vector<Dimension>{Dimension::of_param(""), Dimension{}, Dimension::of_value(0)}});
  g.input.push_back({"seq", TypeKind::sequence, DataType::undefined, std::nullopt});
  g.input.push_back({"untyped", TypeKind::none, DataType::undefined, std::nullopt});
  g.output.push_back({"y", TypeKind::tensor, DataType::undefined, std::vector<Dimension>{}});
  NodeProto n;
  n.op_type = "Custom";
  n.domain = "com.example";
  n.input = {"x", "", "w"};
  n.output = {"y"};
  AttributeProto nan;
  nan.name = "nan";
  nan.type = AttributeType::float32;
  nan.f = std::numeric_limits<float>::quiet_NaN();
  AttributeProto zero;
  zero.name = "negzero";
  zero.type = AttributeType::floats;
  zero.floats = {-0.0f, std::numeric_limits<float>::infinity()};
  AttributeProto untyped;
  untyped.name = "old_style";
  untyped.i = -3;
  n.attribute = {nan, zero, untyped};
  g.node.push_back(n);
  // A function the graph does not call is carried through verbatim.
  Bytes function_bytes;
  Writer fw(function_bytes);
  fw.write_string(1, "Unused");
  fw.write_string(10, "com.example");
  fw.write_string(4, "in");
  m.functions.push_back({"Unused", "com.example", function_bytes});

  const Bytes bytes = qnn::onnx::serialize(m);
  const ModelProto again = qnn::onnx::parse_model(bytes);
  CHECK(again == m);
  CHECK(qnn::onnx::serialize(again) == bytes);
  CHECK(again.graph.node[0].attribute[0].f != again.graph.node[0].attribute[0].f);  // still NaN

  SUBCASE("the writer refuses an inconsistent tensor") {
    ModelProto bad = m;
    bad.graph.initializer[0].dims = {3};
    CHECK(error_of([&] { qnn::onnx::serialize(bad); }) ==
          doctest::Contains("tensor 'w' has 4 bytes of data, but its dims describe 3 elements"));
  }
}

TEST_CASE("save_model / load_model and save_tensor / load_tensor") {
  const fs::path dir = unique_temp_dir("qnn_onnx_save");
  const ModelProto m = qnn::onnx::load_model(data_dir / "typed_fields.onnx");
  qnn::onnx::save_model(dir / "m.onnx", m);
  CHECK(qnn::onnx::load_model(dir / "m.onnx") == m);
  const TensorProto t = qnn::onnx::make_tensor<float>("t", {2}, {1.0f, 2.0f});
  qnn::onnx::save_tensor(dir / "t.pb", t);
  CHECK(qnn::onnx::load_tensor(dir / "t.pb") == t);
  CHECK(error_of([&] { qnn::onnx::save_model(dir / "missing" / "m.onnx", m); }) ==
        doctest::Contains("m.onnx': cannot open"));
  // A save that fails half-way (here: a file-size limit stands in for a full disk) leaves the model
  // that was there untouched, and no temporary file.
  const auto before = qnn::io::read_file_bytes(dir / "m.onnx");
  ModelProto big = m;
  big.graph.initializer.push_back(qnn::onnx::make_tensor<float>("big", {4096}, std::vector<float>(4096, 1.0f)));
  {
    rlimit old{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of being killed
    rlimit small = old;
    small.rlim_cur = 4096;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    const doctest::String e = error_of([&] { qnn::onnx::save_model(dir / "m.onnx", big); });
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    CHECK(e == doctest::Contains("m.onnx': writing"));
  }
  CHECK(qnn::io::read_file_bytes(dir / "m.onnx") == before);
  CHECK(error_of([&] { qnn::onnx::save_model("/dev/full", m); }) == doctest::Contains("/dev/full': writing"));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
  CHECK(files == 2);
  fs::remove_all(dir);
}

TEST_CASE("ONNX conformance models and tensors parse and round-trip") {
  if (!fs::exists(conformance_dir)) {
    MESSAGE("skipped: ", conformance_dir.string(), " not found (Debian package libonnx-testdata)");
    return;
  }
  std::vector<fs::path> dirs;
  for (const fs::directory_entry& e : fs::directory_iterator(conformance_dir)) {
    if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());

  int models = 0;
  int tensors = 0;
  int tensors_non_tensor = 0;  // sequence / optional values: SequenceProto files, not TensorProto
  int tensors_string = 0;
  std::map<DataType, int> by_type;
  for (const fs::path& dir : dirs) {
    const std::string test = dir.filename().string();
    CAPTURE(test);
    ModelProto m;
    try {
      m = qnn::onnx::load_model(dir / "model.onnx");
    } catch (const qnn::error& e) {
      // ONNX 1.12's node tests use no external data, sparse or string tensors, sub-byte types or
      // local functions in their models, so every model must parse.
      FAIL_CHECK(e.what());
      continue;
    }
    ++models;
    const Bytes bytes = qnn::onnx::serialize(m);
    const ModelProto again = qnn::onnx::parse_model(bytes);
    CHECK(again == m);
    CHECK(qnn::onnx::serialize(again) == bytes);

    // ONNX 1.12 stores the bfloat16 Cast/CastLike test data as float32 with other shapes than the
    // model declares; those files are checked for parsing only.
    const bool bf16_quirk = test.find("BFLOAT16") != std::string::npos;
    for (const fs::directory_entry& set : fs::directory_iterator(dir)) {
      if (!set.is_directory()) continue;
      for (const fs::directory_entry& file : fs::directory_iterator(set.path())) {
        if (file.path().extension() != ".pb") continue;
        const std::string stem = file.path().stem().string();  // input_3, output_0
        const auto underscore = stem.rfind('_');
        const bool is_input = stem.rfind("input", 0) == 0;
        const std::size_t index = std::stoul(stem.substr(underscore + 1));
        const std::vector<ValueInfoProto>& values = is_input ? m.graph.input : m.graph.output;
        REQUIRE(index < values.size());
        const ValueInfoProto& vi = values[index];
        CAPTURE(file.path().string());
        if (vi.kind != TypeKind::tensor) {
          ++tensors_non_tensor;
          CHECK_THROWS_AS(qnn::onnx::load_tensor(file.path()), qnn::error);
          continue;
        }
        if (vi.elem_type == DataType::string) {
          ++tensors_string;
          CHECK(error_of([&] { qnn::onnx::load_tensor(file.path()); }) ==
                doctest::Contains("holds strings"));
          continue;
        }
        TensorProto t;
        try {
          t = qnn::onnx::load_tensor(file.path());
        } catch (const qnn::error& e) {
          FAIL_CHECK(e.what());
          continue;
        }
        ++tensors;
        ++by_type[t.data_type];
        CHECK(t.name == vi.name);
        if (!bf16_quirk) {
          CHECK(t.data_type == vi.elem_type);
          if (vi.shape) {
            REQUIRE(vi.shape->size() == t.dims.size());
            for (std::size_t k = 0; k < t.dims.size(); ++k) {
              if ((*vi.shape)[k].kind == DimKind::value) CHECK((*vi.shape)[k].value == t.dims[k]);
            }
          }
        }
        CHECK(qnn::onnx::parse_tensor(qnn::onnx::serialize(t)) == t);
      }
    }
  }
  std::ostringstream types;
  for (const auto& [type, count] : by_type) types << type << ": " << count << "  ";
  MESSAGE(models, " models parsed; ", tensors, " tensors parsed (", types.str(), "); refused as "
          "documented: ", tensors_string, " string tensors, ", tensors_non_tensor,
          " sequence/optional files");
  // Counts of the ONNX 1.12 data set (Debian libonnx-testdata), pinned so a change is noticed.
  CHECK(models == 932);
  CHECK(tensors == 2816);
  CHECK(tensors_string == 20);
  CHECK(tensors_non_tensor == 51);
}

}  // TEST_SUITE onnx.proto.roundtrip

// =============================================================================================
TEST_SUITE("onnx.proto.python") {

TEST_CASE("a model written by save_model passes onnx.checker and runs in ONNX Runtime") {
  if (!fs::exists(python)) {
    MESSAGE("skipped: no Python venv at ", python.string());
    return;
  }
  // Y = (X + W) * two, Z = Cast<int32>(Y), with a symbolic batch dimension.
  ModelProto m;
  m.ir_version = 8;
  m.opset_import = {{"", 17}};
  m.producer_name = "qnn test_proto";
  GraphProto& g = m.graph;
  g.name = "add_mul_cast";
  g.initializer.push_back(qnn::onnx::make_tensor<float>("W", {3}, {0.5f, -1.0f, 2.0f}));
  g.initializer.push_back(qnn::onnx::make_tensor<float>("two", {}, {2.0f}));
  g.input.push_back({"X", TypeKind::tensor, DataType::float32,
                     std::vector<Dimension>{Dimension::of_param("batch"), Dimension::of_value(3)}});
  g.output.push_back(
      {"Y", TypeKind::tensor, DataType::float32,
       std::vector<Dimension>{Dimension::of_param("batch"), Dimension::of_value(3)}});
  g.output.push_back(
      {"Z", TypeKind::tensor, DataType::int32,
       std::vector<Dimension>{Dimension::of_param("batch"), Dimension::of_value(3)}});
  g.node.push_back({"add", "Add", "", {"X", "W"}, {"S"}, {}});
  g.node.push_back({"mul", "Mul", "", {"S", "two"}, {"Y"}, {}});
  AttributeProto to;
  to.name = "to";
  to.type = AttributeType::int64;
  to.i = static_cast<std::int64_t>(DataType::int32);
  g.node.push_back({"cast", "Cast", "", {"Y"}, {"Z"}, {to}});

  const fs::path dir = unique_temp_dir("qnn_onnx_checker");
  qnn::onnx::save_model(dir / "model.onnx", m);
  const fs::path script = dir / "check.py";
  {
    std::ofstream py(script);
    py << "import sys\n"
          "import numpy as np, onnx, onnxruntime as ort\n"
          "m = onnx.load(sys.argv[1])\n"
          "onnx.checker.check_model(m, full_check=True)\n"
          "assert m.producer_name == 'qnn test_proto'\n"
          "w = onnx.numpy_helper.to_array(m.graph.initializer[0])\n"
          "assert w.dtype == np.float32 and w.tolist() == [0.5, -1.0, 2.0], w\n"
          "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
          "x = np.array([[1, 2, 3], [4, 5, 6]], np.float32)\n"
          "y, z = s.run(None, {'X': x})\n"
          "assert np.array_equal(y, (x + w) * 2), y\n"
          "assert z.dtype == np.int32 and np.array_equal(z, ((x + w) * 2).astype(np.int32)), z\n";
  }
  CHECK(run_python(script, "'" + (dir / "model.onnx").string() + "'") == 0);
  fs::remove_all(dir);
}

TEST_CASE("every conformance tensor decodes to the bytes onnx.numpy_helper gives") {
  if (!fs::exists(python) || !fs::exists(conformance_dir)) {
    MESSAGE("skipped: needs the Python venv and ", conformance_dir.string());
    return;
  }
  const fs::path dir = unique_temp_dir("qnn_onnx_crc");
  const fs::path script = dir / "crc.py";
  {
    std::ofstream py(script);
    py << "import glob, sys, zlib\n"
          "import onnx, onnx.numpy_helper as nh\n"
          "with open(sys.argv[1], 'w') as out:\n"
          "    for p in sorted(glob.glob(sys.argv[2] + '/*/test_data_set_*/*.pb')):\n"
          "        t = onnx.TensorProto()\n"
          "        t.ParseFromString(open(p, 'rb').read())\n"
          "        if t.data_type not in (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 16):\n"
          "            continue\n"
          "        try:\n"
          "            a = nh.to_array(t)\n"
          "        except ValueError:\n"
          "            continue  # a SequenceProto or OptionalProto file, not a tensor\n"
          "        out.write('%s %d %d\\n' % (p, t.data_type, zlib.crc32(a.tobytes())))\n";
  }
  const fs::path listing = dir / "crc.txt";
  REQUIRE(run_python(script, "'" + listing.string() + "' '" + conformance_dir.string() + "'") == 0);
  std::ifstream in(listing);
  std::string path;
  int type = 0;
  std::uint32_t crc = 0;
  int compared = 0;
  while (in >> path >> type >> crc) {
    CAPTURE(path);
    const TensorProto t = qnn::onnx::load_tensor(path);
    CHECK(static_cast<int>(t.data_type) == type);
    CHECK(crc32(t.data) == crc);
    ++compared;
  }
  MESSAGE(compared, " conformance tensors match onnx.numpy_helper byte for byte");
  CHECK(compared > 2700);
  fs::remove_all(dir);
}

}  // TEST_SUITE onnx.proto.python
