// Post-training quantization: float graph + calibration data + configuration → QDQ graph.
//
//   1. the float graph is prepared (constants and BatchNorm folded, shapes probed) and, optionally,
//      equalized across layers (CLE);
//   2. plan.hpp decides which tensors are quantized;
//   3. calibration streams the data once through a float session that also outputs those tensors,
//      keeping each one's min/max and histogram (bounded memory, any number of samples);
//   4. each tensor's parameters come from the configured method (methods.hpp); movement outputs
//      share their input's; XINT8 then applies the NPU's rules (xint8.hpp), logging each change;
//   5. the QDQ graph is built: QuantizeLinear→DequantizeLinear on every quantized tensor, int8
//      weights and int32 biases behind DequantizeLinear, folded activations removed;
//   6. optionally bias correction and finetuning adjust weights and biases on calibration data.
// The QDQ graph is the result: a Session runs it with integer kernels (QDQ lowering), and
// onnx::save_graph writes it for ONNX Runtime. 16-bit Q/DQ use the com.microsoft domain, as ONNX
// Runtime's own quantizer does before opset 21, so the model's opset does not change.
#pragma once

#include <chrono>
#include <concepts>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/graph/passes/fuse_activation.hpp"
#include "qnn/numerics/quantize.hpp"
#include "qnn/quantize/calib_reader.hpp"
#include "qnn/quantize/config.hpp"
#include "qnn/quantize/histogram.hpp"
#include "qnn/quantize/methods.hpp"
#include "qnn/quantize/plan.hpp"
#include "qnn/quantize/qparams.hpp"
#include "qnn/runtime/session.hpp"
#include "qnn/runtime/thread_pool.hpp"

namespace qnn::quant {

// Progress of calibration: (samples done, samples total).
using ProgressFn = std::function<void(std::int64_t, std::int64_t)>;

struct QuantizeResult {
  Graph graph;                              // the QDQ graph
  std::vector<std::string> log;             // every adjustment made, with its reason
  std::map<std::string, QParams> params;    // chosen parameters per quantized tensor
  std::int64_t samples = 0;                 // calibration samples seen
  double seconds = 0;                       // wall time of the whole quantization
};

struct CalibrationStats {
  std::map<std::string, RangeObserver> ranges;
  std::map<std::string, Histogram> histograms;
  std::int64_t samples = 0;
};

namespace detail {

// Fails on the first NaN or infinity in a float calibration batch whose first sample is `first`.
inline void check_finite_input(const Tensor& t, const std::string& name, std::int64_t first) {
  if (t.dtype() != DType::f32) return;
  const auto v = t.span<float>();
  const std::int64_t per_sample =
      t.shape().rank() && t.shape()[0] > 0 ? static_cast<std::int64_t>(v.size()) / t.shape()[0] : 1;
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      fail("calibration data: input '", name, "' sample ", first + static_cast<std::int64_t>(i) / per_sample,
           " holds ", v[i], " (element ", static_cast<std::int64_t>(i) % per_sample,
           "); NaN or infinity would poison every scale");
}

// Observes one tensor of a batch with `pool`'s threads: the first part of the values goes straight
// into `into`, each other part into an observer of its own, merged afterwards. Counts add and
// min/max commute, so the statistics are the same for every thread count. A tensor of fewer than
// 2 × 2^16 values is not split (and allocates nothing).
template <class Observer, class Fresh>
void observe_parallel(ThreadPool& pool, std::vector<Observer>& parts, Observer& into, std::span<const float> v,
                      const std::string& tensor, Fresh fresh) {
  constexpr std::int64_t kGrain = std::int64_t{1} << 16;
  const auto n = static_cast<std::int64_t>(v.size());
  if (pool.threads() == 1 || n < 2 * kGrain) {
    into.observe(v, tensor);
    return;
  }
  std::int64_t base = 0;  // RangeObserver: where this batch starts, to name a non-finite value by position
  if constexpr (std::same_as<Observer, RangeObserver>) base = into.count;
  parts.assign(static_cast<std::size_t>(pool.threads() - 1), fresh());
  pool.parallel_for(
      n,
      [&](int part, std::int64_t b, std::int64_t e) {
        const std::span<const float> mine = v.subspan(static_cast<std::size_t>(b), static_cast<std::size_t>(e - b));
        if (part == 0) return into.observe(mine, tensor);
        Observer& o = parts[static_cast<std::size_t>(part - 1)];
        if constexpr (std::same_as<Observer, RangeObserver>) o.count = base + b;
        o.observe(mine, tensor);
        if constexpr (std::same_as<Observer, RangeObserver>) o.count = e - b;
      },
      kGrain);
  for (const Observer& o : parts) into.merge(o);
}

}  // namespace detail

// Streams the reader through `g` and collects statistics of `tensors`.
inline CalibrationStats collect_statistics(const Graph& g, const std::set<std::string>& tensors,
                                           CalibrationReader& reader, const QuantConfig& cfg, int threads,
                                           const ProgressFn& progress) {
  Graph probe = g;
  std::vector<std::string> wanted;
  for (const auto& t : tensors)
    if (!probe.is_graph_output(t)) probe.outputs.push_back(t);
  // Relu/Clip fold into the producer where its output is not observed (a graph output is never
  // fused away): the same values, one pass over the tensor fewer.
  passes::fuse_activations(probe);
  SessionOptions so;
  so.optimize = false;
  so.probe = false;
  so.threads = threads;
  const Session s(std::move(probe), so);
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < s.output_names().size(); ++i) index[s.output_names()[i]] = i;

  CalibrationStats st;
  const bool need_hist = cfg.method != CalibMethod::minmax;
  // One pass: each batch's values widen the range first, then land in a histogram whose
  // power-of-two grid follows the range (histogram.hpp), so the data is read and the model run once.
  std::map<std::string, GridHistogram> grids;
  if (need_hist)
    for (const auto& t : tensors) grids.emplace(t, GridHistogram(2 * cfg.method_options.histogram_bins + 1));
  RunContext ctx;
  std::vector<TensorRef> outs;
  ThreadPool pool(threads);  // observes while the session's own pool is idle
  std::vector<RangeObserver> range_parts;
  std::vector<GridHistogram> hist_parts;
  reader.rewind();
  std::int64_t done = 0;
  while (auto batch = reader.next()) {
    // Checked at the input first, so the message names the sample rather than the first
    // activation the NaN happens to reach (ReLU and MaxPool may even swallow it on the way).
    for (std::size_t i = 0; i < batch->size() && i < s.input_names().size(); ++i)
      detail::check_finite_input((*batch)[i], s.input_names()[i], done);
    s.run_in_place(ctx, *batch, outs);
    for (const auto& t : tensors) {
      const TensorRef& v = outs[index.at(t)];
      check(v.dtype == DType::f32, "calibration: tensor '", t, "' is ", v.dtype, ", not float32");
      RangeObserver& r = st.ranges[t];
      detail::observe_parallel(pool, range_parts, r, v.span<float>(), t, [] { return RangeObserver(); });
      if (!need_hist || r.empty()) continue;
      GridHistogram& h = grids.at(t);
      h.cover(r.min, r.max);
      detail::observe_parallel(pool, hist_parts, h, v.span<float>(), t, [&] { return h.empty_copy(); });
    }
    done += (*batch)[0].shape().rank() ? (*batch)[0].shape()[0] : 1;
    if (progress) progress(done, reader.samples());
  }
  check(done > 0, "calibration: the reader produced no data");
  st.samples = done;
  for (const auto& [t, h] : grids) st.histograms.emplace(t, h.histogram());
  return st;
}

namespace detail {

inline Tensor scale_tensor(const std::vector<float>& s) {
  if (s.size() == 1) return Tensor::scalar(s[0]);
  return Tensor::from<float>(Shape{static_cast<std::int64_t>(s.size())}, std::span<const float>(s));
}

inline Tensor zero_point_tensor(DType storage, const std::vector<std::int32_t>& zps, bool vector) {
  Tensor t(storage, vector ? Shape{static_cast<std::int64_t>(zps.size())} : Shape{});
  visit_dtype(storage, [&](auto v) {
    using T = decltype(v);
    if constexpr (QuantStorage<T> || std::same_as<T, std::int32_t>) {
      auto out = t.span<T>();
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(zps[i]);
    }
  });
  return t;
}

// The Q/DQ domain for a storage type: 16-bit uses ONNX Runtime's com.microsoft ops (no opset bump).
inline std::string qdq_domain(DType storage) {
  return storage == DType::i16 || storage == DType::u16 ? "com.microsoft" : "";
}

inline Node qdq_node(const std::string& op, const std::string& name, const std::string& domain,
                     std::vector<std::string> inputs, std::string output, std::int64_t axis = -1) {
  Node n;
  n.name = name;
  n.op_type = op;
  n.domain = domain;
  n.inputs = std::move(inputs);
  n.outputs = {std::move(output)};
  if (axis >= 0) n.attrs.set("axis", axis);
  return n;
}

}  // namespace detail

// Symmetric int8 weight quantization, per channel along `axis` or per tensor: scale = max|w|/127
// (a power of two 2^−pos for pow2 targets, chosen to minimize the weights' squared error), values
// rounded half to even (half away from zero for XINT8, the DPU's rule for parameters).
struct QuantizedWeight {
  Tensor q;                    // int8
  std::vector<float> scales;   // one per channel, or one
  int axis = 0;
};

// `forced_scale` > 0 replaces the chosen scale (per tensor only): the XINT8 shift_cut rule.
inline QuantizedWeight quantize_weight(const Tensor& w, int axis, bool per_channel, const QuantTarget& target,
                                       Rounding rounding, float forced_scale = 0.0f) {
  check(w.dtype() == DType::f32, "weights must be float32, got ", w.dtype());
  QuantizedWeight out;
  out.axis = axis;
  const Shape& s = w.shape();
  const std::int64_t channels = per_channel ? s.dim(axis) : 1;
  std::int64_t inner = 1;
  for (int i = s.normalize_axis(axis) + 1; i < s.rank(); ++i) inner *= s[i];
  const ChannelIndex ci{inner, s.dim(axis)};
  auto channel_of = [&](std::int64_t i) { return per_channel ? ci(i) : 0; };
  const auto v = w.span<float>();
  std::vector<double> absmax(static_cast<std::size_t>(channels), 0.0);
  for (std::size_t i = 0; i < v.size(); ++i) {
    check(std::isfinite(v[i]), "weights hold a non-finite value");
    auto& m = absmax[static_cast<std::size_t>(channel_of(static_cast<std::int64_t>(i)))];
    m = std::max(m, double{std::fabs(v[i])});
  }
  const int levels = target.symmetric_levels();
  for (std::int64_t c = 0; c < channels; ++c) {
    const double am = absmax[static_cast<std::size_t>(c)];
    float scale = am > 0 ? static_cast<float>(am / levels) : 1.0f;
    if (target.pow2 && am > 0) {
      // Candidates around the non-overflowing position; keep the one with the least squared error.
      const int pos0 = static_cast<int>(std::floor(std::log2(levels / am)));
      double best = -1;
      for (int pos = pos0; pos <= pos0 + 3; ++pos) {
        const float sc = std::ldexp(1.0f, -pos);
        double err = 0;
        for (std::size_t i = 0; i < v.size(); ++i) {
          if (channel_of(static_cast<std::int64_t>(i)) != c) continue;
          const double q = std::clamp(round_with(rounding, double{v[i]} / sc), double(-levels), double(levels));
          err += (q * sc - v[i]) * (q * sc - v[i]);
        }
        if (best < 0 || err < best) {
          best = err;
          scale = sc;
        }
      }
    }
    out.scales.push_back(forced_scale > 0 ? forced_scale : scale);
  }
  out.q = Tensor(DType::i8, s);
  auto q = out.q.span<std::int8_t>();
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float sc = out.scales[static_cast<std::size_t>(channel_of(static_cast<std::int64_t>(i)))];
    q[i] = static_cast<std::int8_t>(std::clamp(round_with(rounding, double{v[i] / sc}), double(-levels), double(levels)));
  }
  return out;
}

// int32 bias at scale s_x·s_w[c] (fp32 product, as ONNX Runtime computes it), round half to even.
inline Tensor quantize_bias(const Tensor& b, float sx, const std::vector<float>& sw, std::vector<float>& scales) {
  check(b.dtype() == DType::f32, "bias must be float32, got ", b.dtype());
  const auto v = b.span<float>();
  Tensor q(DType::i32, b.shape());
  auto out = q.span<std::int32_t>();
  scales.clear();
  for (std::size_t c = 0; c < v.size(); ++c) {
    const float s = sx * sw[sw.size() == 1 ? 0 : c];
    scales.push_back(s);
    const double r = round_half_even(double{v[c]} / double{s});
    out[c] = saturate<std::int32_t>(static_cast<std::int64_t>(std::clamp(r, -4.0e9, 4.0e9)));
  }
  return q;
}

}  // namespace qnn::quant
