// Quantization configurations: the presets AMD Quark and ONNX Runtime users know, as data.
//
//   preset  activations                      weights                         default method
//   u8s8    uint8 asymmetric, float scale    int8 symmetric [−127,127]       minmax   (ONNX Runtime's default)
//   s8s8    int8 asymmetric, float scale     int8 symmetric                   minmax   (ONNX Runtime QInt8/QInt8)
//   a8w8    int8 symmetric, float scale      int8 symmetric                   minmax   (Quark A8W8)
//   a16w8   int16 symmetric, float scale     int8 symmetric                   minmax   (Quark A16W8)
//   xint8   uint8 symmetric (zp 128), 2^−pos int8 symmetric 2^−pos, per tensor pow2-mse (Quark XINT8, NPU)
//   bf16    bfloat16 (no integer quantization: Conv/Gemm/MatMul inputs and weights rounded to bf16)
// Weights are per output channel unless `per_channel` is off (XINT8 requires per tensor, as Quark
// does). `weight.reduced` is ONNX Runtime's reduce_range (weights on [−64, 64]; not for XINT8, whose
// NPU rules fix the int8 range). Nodes can be kept in float by name or by op type.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "qnn/core/error.hpp"
#include "qnn/quantize/methods.hpp"
#include "qnn/quantize/qparams.hpp"

namespace qnn::quant {

enum class Preset : std::uint8_t { u8s8, s8s8, a8w8, a16w8, xint8, bf16 };

constexpr std::string_view name_of(Preset p) {
  switch (p) {
    case Preset::u8s8: return "u8s8";
    case Preset::s8s8: return "s8s8";
    case Preset::a8w8: return "a8w8";
    case Preset::a16w8: return "a16w8";
    case Preset::xint8: return "xint8";
    case Preset::bf16: return "bf16";
  }
  return "?";
}

inline std::optional<Preset> parse_preset(std::string_view s) {
  for (Preset p : {Preset::u8s8, Preset::s8s8, Preset::a8w8, Preset::a16w8, Preset::xint8, Preset::bf16})
    if (name_of(p) == s) return p;
  return std::nullopt;
}

// Options of the accuracy tools (docs/quantization.md, "Cross-layer equalization", "Bias correction",
// "Finetuning").
struct CleOptions {
  int max_steps = 64;          // sweeps over all pairs at most
  double threshold = 1.9e-7;   // stop when a sweep changes Σ_layers mean|ΔW| by less (Quark's value)
};
struct BiasCorrectionOptions {
  std::int64_t samples = 512;  // calibration samples averaged per layer (the first ones the reader gives)
};
struct FinetuneOptions {
  std::int64_t samples = 1024;  // calibration samples per layer (the first ones the reader gives)
  std::int64_t rows = 8192;     // rows (output positions) kept per layer, drawn evenly from the samples
  int passes = 4;               // greedy sweeps over the weights of a channel at most
  std::uint64_t seed = 0;       // of the row subsampling
};

struct QuantConfig {
  Preset preset = Preset::u8s8;
  QuantTarget activation{DType::u8, false, false};
  QuantTarget weight{DType::i8, true, false};
  bool per_channel = true;
  CalibMethod method = CalibMethod::minmax;
  MethodOptions method_options;
  std::set<std::string> exclude_nodes;     // kept in float, by node name
  std::set<std::string> exclude_op_types;  // kept in float, by op type
  bool cle = false;               // cross-layer equalization before calibration
  bool bias_correction = false;   // per-channel output-mean correction after quantization
  bool finetune = false;          // layer-wise rounding/bias finetuning (AdaQuant-style)
  CleOptions cle_options;
  BiasCorrectionOptions bias_correction_options;
  FinetuneOptions finetune_options;

  bool integer() const { return preset != Preset::bf16; }

  static QuantConfig make(Preset p) {
    QuantConfig c;
    c.preset = p;
    switch (p) {
      case Preset::u8s8:
        c.activation = {DType::u8, false, false};
        break;
      case Preset::s8s8:  // a post-ReLU tensor keeps all 256 codes (zero point −128), unlike a8w8
        c.activation = {DType::i8, false, false};
        break;
      case Preset::a8w8:
        c.activation = {DType::i8, true, false};
        break;
      case Preset::a16w8:
        c.activation = {DType::i16, true, false};
        break;
      case Preset::xint8:
        c.activation = {DType::u8, true, true};
        c.weight = {DType::i8, true, true};
        c.per_channel = false;
        c.method = CalibMethod::pow2_mse;
        break;
      case Preset::bf16:
        break;
    }
    return c;
  }

  void validate() const {
    if (preset == Preset::xint8) {
      check(!per_channel, "xint8: weights must be quantized per tensor (the NPU's rule; Quark refuses per-channel XINT8)");
      check(activation.pow2 && weight.pow2, "xint8: scales must be powers of two");
    }
    check(weight.storage == DType::i8 && weight.symmetric, "weights must be int8 symmetric");
    check(!activation.reduced, "a reduced range (reduce_range) applies to weights only, as in ONNX Runtime");
    check(!(weight.reduced && preset == Preset::xint8), "xint8: weights use the full int8 range (reduce_range is not an NPU configuration)");
    check(cle_options.max_steps >= 1 && cle_options.threshold >= 0, "cle: max_steps must be ≥ 1, threshold ≥ 0");
    check(bias_correction_options.samples >= 1, "bias correction: samples must be ≥ 1");
    check(finetune_options.samples >= 1 && finetune_options.rows >= 1 && finetune_options.passes >= 0,
          "finetune: samples and rows must be ≥ 1, passes ≥ 0");
  }
};

}  // namespace qnn::quant
