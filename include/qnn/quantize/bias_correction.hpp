// Empirical bias correction (as vai_q and AMD Quark's BiasCorrection do; the data-free variant is
// Nagel et al. 2019, §4.2): for each quantized Conv/Gemm in execution order, the expected error that
// weight quantization adds to each output channel is measured on calibration data and subtracted
// through the bias.
//
// Both the float layer and the quantized one see the same quantized input x̂ (the value the
// quantized model, as corrected so far, feeds the layer), so the correction targets the layer's own
// weight error and not the error upstream:
//   Δb[c] = E[(W x̂ + b)[c] − (Ŵ x̂ + b̂)[c]] = E[((W − Ŵ) x̂)[c]] + b[c] − b̂[c]
//   b̂' = b + E[((W − Ŵ) x̂)[c]], requantized to int32 at s_x·s_w[c]
// The layer is linear, so the expectation over samples and output positions is the layer applied
// to the mean input: with x̄ = mean of x̂ over the samples (an N×C×H×W activation averages to
// 1×C×H×W; zero padding is linear too), E[(W − Ŵ) x̂] per channel = the spatial mean of
// conv((W − Ŵ), x̄). One streaming pass per layer keeps only x̄ (bounded memory, any N); qnn's float
// kernel then applies W − Ŵ to it once.
//
// Samples: the reader's first `BiasCorrectionOptions::samples` (default 512). Layers are processed
// in order and each pass runs the QDQ model as corrected so far (with qnn's integer kernels).
// MatMul has no bias input and is left as it is. Weights never change; a Conv/Gemm without a bias
// gets one. The correction is on the accumulator, before output requantization.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/quantize/calib_reader.hpp"
#include "qnn/quantize/config.hpp"
#include "qnn/quantize/qdq_layers.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn::quant {

struct BiasCorrectionResult {
  std::string layer;
  std::vector<float> correction;  // b̂' − b̂ per output channel
  double max_lsb = 0;             // max |correction| in LSB of the layer's output (0 if not quantized)
};

namespace detail {

// Accumulates the mean of a layer's input over its rows: N×C×… → 1×C×… for Conv, …×K → 1×K for
// Gemm and MatMul, K×M → K×1 for Gemm with transA.
class MeanInput {
 public:
  explicit MeanInput(const QdqLayer& L) : conv_(L.op_type == "Conv"), trans_a_(L.op_type == "Gemm" && L.float_node.attrs.get_int("transA", 0)) {}

  void add(const Tensor& x) {
    check(x.dtype() == DType::f32 && x.shape().rank() >= (conv_ ? 3 : 2), "unexpected layer input ", x.shape());
    const Shape& s = x.shape();
    Shape mean_shape;
    std::int64_t rows = 0, width = 0;
    if (conv_) {
      rows = s[0];
      width = rows ? x.numel() / rows : 0;
      mean_shape = s;
      mean_shape[0] = 1;
    } else if (trans_a_) {
      rows = s[1];
      width = s[0];
      mean_shape = Shape{s[0], 1};
    } else {
      width = s[s.rank() - 1];
      rows = width ? x.numel() / width : 0;
      mean_shape = Shape{1, width};
    }
    if (sum_.empty()) {
      sum_.assign(static_cast<std::size_t>(width), 0.0);
      shape_ = mean_shape;
    }
    check(shape_ == mean_shape, "layer inputs of shapes ", shape_, " and ", mean_shape, " cannot be averaged");
    const auto v = x.span<float>();
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t k = 0; k < width; ++k)
        sum_[static_cast<std::size_t>(k)] +=
            v[static_cast<std::size_t>(trans_a_ ? k * rows + r : r * width + k)];
    rows_ += rows;
  }
  Tensor mean() const {
    check(rows_ > 0, "no layer input was seen");
    Tensor m(DType::f32, shape_);
    auto out = m.span<float>();
    for (std::size_t k = 0; k < out.size(); ++k) out[k] = static_cast<float>(sum_[k] / static_cast<double>(rows_));
    return m;
  }

 private:
  bool conv_, trans_a_;
  std::vector<double> sum_;
  Shape shape_;
  std::int64_t rows_ = 0;
};

}  // namespace detail

inline std::vector<BiasCorrectionResult> correct_bias(const Graph& float_graph, Graph& qdq_graph, CalibrationReader& reader,
                                                      const QuantConfig& cfg, int threads, std::vector<std::string>& log) {
  const std::int64_t samples = cfg.bias_correction_options.samples;
  std::vector<BiasCorrectionResult> results;
  for (QdqLayer& L : qdq_layers(float_graph, qdq_graph, "bias correction", log)) {
    if (!L.can_have_bias()) {
      log.push_back("bias correction: skipped '" + L.name + "' (MatMul has no bias input)");
      continue;
    }
    with_context("bias correction of '" + L.name + "'", [&] {
      detail::MeanInput mean(L);
      const Session taps = tap_session(qdq_graph, {L.input}, true, threads);
      RunContext ctx;
      std::vector<Tensor> outs;
      const std::int64_t seen = for_first_samples(reader, samples, [&](const std::vector<Tensor>& batch) {
        taps.run(ctx, batch, outs);
        mean.add(outs[0]);
      });
      // E[(W − Ŵ) x̂] per output channel: the layer with weights W − Ŵ and no bias, on the mean input.
      Tensor dw = dequantized_weight(qdq_graph, L);
      const auto w = L.weight.span<float>();
      for (std::size_t i = 0; i < w.size(); ++i) dw.span<float>()[i] = w[i] - dw.span<float>()[i];
      const Session layer = layer_session(single_layer_graph(L, dw, nullptr, float_graph.opsets));
      const Tensor xm = mean.mean();
      const Tensor y = layer.run(std::span<const Tensor>(&xm, 1))[0];
      const std::int64_t per = y.numel() / L.channels;  // output positions per channel
      const auto yv = y.span<float>();
      const std::vector<float> old_bias = dequantized_bias(qdq_graph, L);
      std::vector<float> bias(static_cast<std::size_t>(L.channels));
      BiasCorrectionResult r;
      r.layer = L.name;
      double max_abs = 0, sum_abs = 0;
      for (std::int64_t c = 0; c < L.channels; ++c) {
        double e = 0;
        for (std::int64_t p = 0; p < per; ++p) e += yv[static_cast<std::size_t>(c * per + p)];
        e /= static_cast<double>(per);
        bias[static_cast<std::size_t>(c)] = static_cast<float>(L.bias[static_cast<std::size_t>(c)] + e);
      }
      set_bias(qdq_graph, L, bias);
      const std::vector<float> new_bias = dequantized_bias(qdq_graph, L);
      for (std::int64_t c = 0; c < L.channels; ++c) {
        const auto u = static_cast<std::size_t>(c);
        r.correction.push_back(new_bias[u] - old_bias[u]);
        max_abs = std::max(max_abs, double{std::fabs(r.correction.back())});
        sum_abs += std::fabs(r.correction.back());
      }
      r.max_lsb = L.output_scale > 0 ? max_abs / L.output_scale : 0;
      log.push_back(qnn::detail::cat(
          "bias correction: '", L.name, "' bias += E[(W − Ŵ)·x̂] over ", seen, " samples: max |Δb| = ", max_abs,
          L.output_scale > 0 ? qnn::detail::cat(" (", r.max_lsb, " LSB of the output)") : std::string(" (output not quantized)"),
          ", mean |Δb| = ", sum_abs / static_cast<double>(L.channels), " over ", L.channels, " channels"));
      results.push_back(std::move(r));
    });
  }
  return results;
}

}  // namespace qnn::quant
