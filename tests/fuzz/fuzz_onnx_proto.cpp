// libFuzzer target for the ONNX protobuf reader and writer (include/qnn/onnx/).
//
// Each input is parsed as a ModelProto and as a TensorProto. A parse may fail only with
// qnn::error; anything else (a crash, a sanitizer report, another exception, a hang, a huge
// allocation) is a bug. What parses must serialize without error, parse back to an equal struct and
// serialize to the same bytes again; a violation aborts so libFuzzer records the input.
//
// Build and run: tests/fuzz/run_fuzz.sh fuzz_onnx_proto SECONDS
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include "qnn/onnx/proto.hpp"

namespace {

template <class Message, class Parse>
void check_round_trip(std::span<const std::byte> bytes, Parse&& parse) {
  std::optional<Message> parsed;
  try {
    parsed = parse(bytes);
  } catch (const qnn::error&) {
    return;  // rejected input: the expected outcome for most mutations
  }
  // From here on nothing may throw: the writer must accept whatever the reader produced.
  const std::vector<std::byte> out = qnn::onnx::serialize(*parsed);
  const Message again = parse(std::span<const std::byte>(out));
  if (!(again == *parsed)) std::abort();
  if (qnn::onnx::serialize(again) != out) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  check_round_trip<qnn::onnx::ModelProto>(
      bytes, [](std::span<const std::byte> b) { return qnn::onnx::parse_model(b); });
  check_round_trip<qnn::onnx::TensorProto>(
      bytes, [](std::span<const std::byte> b) { return qnn::onnx::parse_tensor(b); });
  // Typed access to whatever decoded: may refuse a type, never misbehave.
  try {
    const qnn::onnx::TensorProto t = qnn::onnx::parse_tensor(bytes);
    try {
      static_cast<void>(qnn::onnx::tensor_values_f32(t));
    } catch (const qnn::error&) {
    }
  } catch (const qnn::error&) {
  }
  return 0;
}
