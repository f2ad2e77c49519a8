// The XRT artefact manifest: which prebuilt NPU kernels the user has, and how to call each.
//
// A host library cannot generate NPU code. Each artefact (an xclbin plus, for mlir-aie designs, an
// instruction stream) is compiled ahead of time for one op, one dtype triple and one problem shape;
// the manifest tells qnn what each was built for and how its kernel arguments are laid out, so the
// dispatcher can pad and tile a request onto it. The format (JSON, docs/backends_xrt.md):
//
//   { "qnn_xrt_manifest": 1, "device": 0,
//     "artefacts": [ {
//       "name": "mm_i8_64", "op": "matmul",
//       "xclbin": "mm_64x64x64.xclbin", "kernel": "MLIR_AIE",
//       "instructions": "insts_64x64x64.bin", "instructions_format": "binary",
//       "opcode": 3,
//       "dtypes": { "a": "int8", "b": "int8", "c": "int32" },
//       "shape": { "M": 64, "K": 64, "N": 64 },
//       "b_layout": "KN", "buffers": "host_only",
//       "args": [ "opcode", "instructions", "instruction_count", "a", "b", "c" ] } ] }
//
// `args[i]` is the role of kernel argument i: "opcode", "instructions" (the instruction-stream
// buffer), "instruction_count" (its length in 32-bit words), "a", "b", "c" (the operand buffers),
// "unused" (left unset), or {"scalar": v} (a constant). Paths are relative to the manifest's
// directory. Parsing needs no XRT: a manifest is validated here for everything that does not need
// the xclbin, and against the xclbin's kernel signature when the device loads it (xrt_device.hpp).
//
// The matmul contract: C[M,N] = A[M,K]·B[K,N] with A row-major and C row-major, B row-major K×N
// ("KN") or N×K ("NK", i.e. column-major). C is the raw accumulator — int32 for 8-bit integer
// operands, float32 for bf16 ones — because only an accumulator can be summed over K tiles and
// zero-padded along K; zero points, bias and requantization stay on the host.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/io/file.hpp"
#include "qnn/io/json_read.hpp"

namespace qnn::npu {

enum class XrtArgRole : std::uint8_t { opcode, instructions, instruction_count, a, b, c, scalar, unused };
enum class XrtBufferKind : std::uint8_t { host_only, normal, cacheable };
enum class XrtLayoutB : std::uint8_t { kn, nk };
enum class XrtInstructionFormat : std::uint8_t { binary, hex };

inline std::string_view name_of(XrtArgRole r) {
  switch (r) {
    case XrtArgRole::opcode: return "opcode";
    case XrtArgRole::instructions: return "instructions";
    case XrtArgRole::instruction_count: return "instruction_count";
    case XrtArgRole::a: return "a";
    case XrtArgRole::b: return "b";
    case XrtArgRole::c: return "c";
    case XrtArgRole::scalar: return "scalar";
    case XrtArgRole::unused: return "unused";
  }
  return "?";
}

// Roles whose argument is a buffer object (the others are scalars or left unset).
constexpr bool is_buffer_role(XrtArgRole r) {
  return r == XrtArgRole::instructions || r == XrtArgRole::a || r == XrtArgRole::b || r == XrtArgRole::c;
}

struct XrtArgSpec {
  XrtArgRole role = XrtArgRole::unused;
  std::uint64_t value = 0;  // the constant of a scalar role
};

// The dtype triples an artefact may have: 8-bit integer operands into int32, bf16 into float32.
constexpr bool xrt_matmul_dtypes_supported(DType a, DType b, DType c) {
  const bool int8a = a == DType::i8 || a == DType::u8;
  const bool int8b = b == DType::i8 || b == DType::u8;
  return (int8a && int8b && c == DType::i32) || (a == DType::bf16 && b == DType::bf16 && c == DType::f32);
}

struct XrtArtefact {
  std::string name;
  std::string op;                      // "matmul"
  std::filesystem::path xclbin;        // resolved against the manifest's directory
  std::string kernel;                  // kernel name in the xclbin, e.g. "MLIR_AIE"
  std::filesystem::path instructions;  // empty when the design has no instruction stream
  XrtInstructionFormat instructions_format = XrtInstructionFormat::binary;
  std::uint64_t opcode = 3;
  DType a = DType::i8, b = DType::i8, c = DType::i32;
  std::int64_t M = 0, K = 0, N = 0;
  XrtLayoutB b_layout = XrtLayoutB::kn;
  XrtBufferKind buffers = XrtBufferKind::host_only;
  std::vector<XrtArgSpec> args;  // index = kernel argument number

  // The argument number holding `r`, or -1.
  int slot_of(XrtArgRole r) const {
    for (std::size_t i = 0; i < args.size(); ++i)
      if (args[i].role == r) return static_cast<int>(i);
    return -1;
  }
  // "artefact 'mm_i8_64'": the prefix of messages about this artefact.
  std::string where() const { return "artefact '" + name + "'"; }
};

struct XrtManifest {
  std::string source;  // file name, for messages
  int device = 0;
  std::vector<XrtArtefact> artefacts;

  const XrtArtefact* find(std::string_view name) const {
    for (const auto& a : artefacts)
      if (a.name == name) return &a;
    return nullptr;
  }
};

namespace detail {

inline DType parse_xrt_dtype(const json::Node& n) {
  const std::string& s = n.as_string();
  for (DType t : {DType::f32, DType::bf16, DType::i8, DType::u8, DType::i16, DType::u16, DType::i32, DType::i64})
    if (name_of(t) == s) return t;
  fail(n.where(), ": unknown dtype \"", s, "\" (expected int8, uint8, int32, bfloat16 or float32)");
}

template <class E, std::size_t N>
E parse_xrt_enum(const json::Node& n, const std::pair<std::string_view, E> (&names)[N]) {
  const std::string& s = n.as_string();
  std::string list;
  for (const auto& [name, value] : names) {
    if (name == s) return value;
    list += (list.empty() ? "" : ", ") + std::string(name);
  }
  fail(n.where(), ": unknown value \"", s, "\" (expected one of: ", list, ")");
}

inline XrtArgSpec parse_xrt_arg(const json::Node& n) {
  static constexpr std::pair<std::string_view, XrtArgRole> kRoles[] = {
      {"opcode", XrtArgRole::opcode}, {"instructions", XrtArgRole::instructions},
      {"instruction_count", XrtArgRole::instruction_count}, {"a", XrtArgRole::a}, {"b", XrtArgRole::b},
      {"c", XrtArgRole::c}, {"unused", XrtArgRole::unused}};
  if (n.is_object()) {
    n.check_keys({"scalar"});
    return {XrtArgRole::scalar, static_cast<std::uint64_t>(n.at("scalar").as_int(0))};
  }
  return {parse_xrt_enum(n, kRoles), 0};
}

inline XrtArtefact parse_xrt_artefact(const json::Node& n, const std::filesystem::path& base) {
  n.check_keys({"name", "op", "xclbin", "kernel", "instructions", "instructions_format", "opcode", "dtypes", "shape",
                "b_layout", "buffers", "args"});
  XrtArtefact a;
  a.name = n.at("name").as_string();
  check(!a.name.empty(), n.at("name").where(), ": an artefact needs a non-empty name");
  a.op = n.at("op").as_string();
  check(a.op == "matmul", n.at("op").where(), ": op \"", a.op, "\" is not supported (only \"matmul\")");
  a.xclbin = base / n.at("xclbin").as_string();
  a.kernel = n.at("kernel").as_string();
  check(!a.kernel.empty(), n.at("kernel").where(), ": the kernel name is empty");
  if (const json::Node* i = n.find("instructions")) a.instructions = base / i->as_string();
  if (const json::Node* f = n.find("instructions_format")) {
    static constexpr std::pair<std::string_view, XrtInstructionFormat> kFormats[] = {
        {"binary", XrtInstructionFormat::binary}, {"hex", XrtInstructionFormat::hex}};
    a.instructions_format = parse_xrt_enum(*f, kFormats);
  }
  if (const json::Node* o = n.find("opcode")) a.opcode = static_cast<std::uint64_t>(o->as_int(0));

  const json::Node& dt = n.at("dtypes");
  dt.check_keys({"a", "b", "c"});
  a.a = parse_xrt_dtype(dt.at("a"));
  a.b = parse_xrt_dtype(dt.at("b"));
  a.c = parse_xrt_dtype(dt.at("c"));
  check(xrt_matmul_dtypes_supported(a.a, a.b, a.c), dt.where(), ": dtypes ", name_of(a.a), " x ", name_of(a.b), " -> ",
        name_of(a.c), " are not supported: an artefact must return the raw accumulator (8-bit integers -> int32, ",
        "bfloat16 -> float32) so that the host can tile K and requantize");

  const json::Node& sh = n.at("shape");
  sh.check_keys({"M", "K", "N"});
  constexpr std::int64_t kMaxDim = std::int64_t{1} << 20;
  a.M = sh.at("M").as_int(1, kMaxDim);
  a.K = sh.at("K").as_int(1, kMaxDim);
  a.N = sh.at("N").as_int(1, kMaxDim);
  // Every operand tile must be addressable with 32-bit byte offsets.
  check(a.M * a.K * 2 < (std::int64_t{1} << 31) && a.K * a.N * 2 < (std::int64_t{1} << 31) &&
            a.M * a.N * 4 < (std::int64_t{1} << 31),
        sh.where(), ": an operand of ", a.M, "x", a.K, "x", a.N, " exceeds 2 GiB");

  if (const json::Node* l = n.find("b_layout")) {
    static constexpr std::pair<std::string_view, XrtLayoutB> kLayouts[] = {{"KN", XrtLayoutB::kn},
                                                                           {"NK", XrtLayoutB::nk}};
    a.b_layout = parse_xrt_enum(*l, kLayouts);
  }
  if (const json::Node* b = n.find("buffers")) {
    static constexpr std::pair<std::string_view, XrtBufferKind> kKinds[] = {
        {"host_only", XrtBufferKind::host_only}, {"normal", XrtBufferKind::normal},
        {"cacheable", XrtBufferKind::cacheable}};
    a.buffers = parse_xrt_enum(*b, kKinds);
  }

  const json::Node& args = n.at("args");
  for (const json::Node& arg : args.items()) a.args.push_back(parse_xrt_arg(arg));
  for (XrtArgRole r : {XrtArgRole::opcode, XrtArgRole::instructions, XrtArgRole::instruction_count, XrtArgRole::a,
                       XrtArgRole::b, XrtArgRole::c}) {
    int count = 0;
    for (const auto& s : a.args) count += s.role == r;
    check(count <= 1, args.where(), ": role \"", name_of(r), "\" appears ", count, " times");
  }
  for (XrtArgRole r : {XrtArgRole::a, XrtArgRole::b, XrtArgRole::c})
    check(a.slot_of(r) >= 0, args.where(), ": no argument has role \"", name_of(r), "\"");
  const bool has_stream = !a.instructions.empty();
  check(has_stream == (a.slot_of(XrtArgRole::instructions) >= 0), args.where(),
        has_stream ? ": \"instructions\" names a file but no argument has role \"instructions\""
                   : ": an argument has role \"instructions\" but the artefact names no instructions file");
  check(a.slot_of(XrtArgRole::instruction_count) < 0 || has_stream, args.where(),
        ": role \"instruction_count\" needs an instructions file");
  return a;
}

}  // namespace detail

// Parses and validates a manifest; relative paths are resolved against `base_dir`.
inline XrtManifest parse_xrt_manifest(std::string_view text, std::string source,
                                      const std::filesystem::path& base_dir) {
  const json::Node root = json::parse(text, source);
  root.check_keys({"qnn_xrt_manifest", "device", "artefacts"});
  const std::int64_t version = root.at("qnn_xrt_manifest").as_int();
  check(version == 1, root.at("qnn_xrt_manifest").where(), ": manifest version ", version,
        " is not supported (this qnn reads version 1)");
  XrtManifest m;
  m.source = std::move(source);
  if (const json::Node* d = root.find("device")) m.device = static_cast<int>(d->as_int(0, 255));
  for (const json::Node& a : root.at("artefacts").items()) {
    m.artefacts.push_back(detail::parse_xrt_artefact(a, base_dir));
    const std::string& name = m.artefacts.back().name;
    for (std::size_t i = 0; i + 1 < m.artefacts.size(); ++i)
      check(m.artefacts[i].name != name, a.at("name").where(), ": artefact name '", name, "' is used twice");
  }
  return m;
}

inline XrtManifest load_xrt_manifest(const std::filesystem::path& file) {
  const std::vector<std::byte> bytes = io::read_file_bytes(file);
  const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return parse_xrt_manifest(text, file.string(), file.parent_path());
}

// The artefact's instruction stream as 32-bit words: "binary" is little-endian words (mlir-aie's
// insts.bin), "hex" one hexadecimal word per line (the older insts.txt).
inline std::vector<std::uint32_t> load_instruction_stream(const XrtArtefact& a) {
  check(!a.instructions.empty(), a.where(), ": has no instruction stream");
  const std::vector<std::byte> bytes = with_context(a.where(), [&] { return io::read_file_bytes(a.instructions); });
  const std::string ctx = a.where() + ": " + io::file_context(a.instructions);
  std::vector<std::uint32_t> words;
  if (a.instructions_format == XrtInstructionFormat::binary) {
    check(bytes.size() % 4 == 0, ctx, ": ", bytes.size(), " bytes is not a whole number of 32-bit words");
    words.resize(bytes.size() / 4);
    for (std::size_t i = 0; i < words.size(); ++i)
      words[i] = std::to_integer<std::uint32_t>(bytes[4 * i]) | std::to_integer<std::uint32_t>(bytes[4 * i + 1]) << 8 |
                 std::to_integer<std::uint32_t>(bytes[4 * i + 2]) << 16 |
                 std::to_integer<std::uint32_t>(bytes[4 * i + 3]) << 24;
  } else {
    std::size_t line = 1;
    std::string tok;
    auto flush = [&] {
      if (tok.empty()) return;
      std::string_view t = tok;
      if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) t.remove_prefix(2);
      std::uint64_t v = 0;
      check(t.size() <= 8, ctx, ":", line, ": '", tok, "' is wider than 32 bits");
      for (char h : t) {
        const int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                                                        : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
        check(d >= 0, ctx, ":", line, ": '", tok, "' is not a hexadecimal word");
        v = v << 4 | static_cast<std::uint64_t>(d);
      }
      words.push_back(static_cast<std::uint32_t>(v));
      tok.clear();
    };
    for (std::byte b : bytes) {
      const char ch = static_cast<char>(b);
      if (ch == '\n' || ch == ' ' || ch == '\t' || ch == '\r') {
        flush();
        line += ch == '\n';
      } else {
        tok.push_back(ch);
      }
    }
    flush();
  }
  check(!words.empty(), ctx, ": the instruction stream is empty");
  return words;
}

}  // namespace qnn::npu
