// Layer-wise finetuning of the int8 rounding and the bias (AdaRound's search space, AdaQuant's
// bias update), on the CPU and without PyTorch — AMD Quark runs AdaRound/AdaQuant by rebuilding the
// model in PyTorch.
//
// For each quantized Conv/Gemm/MatMul in execution order:
//  1. Data. The reader's first `samples` calibration samples run through the QDQ model as finetuned
//     so far (qnn's integer kernels) and through the float model. From each sample, the same
//     randomly chosen output positions of the layer (seeded; `rows` in total, spread evenly over
//     the samples) give rows: x̂ = the quantized input patch the layer reads there, and y = the
//     float model's layer output (before any activation) for that sample and position.
//  2. Objective, per output channel c (separable: channel c only depends on its own weights):
//       f_c(Ŵ_c, b̂_c) = Σ_rows (Ŵ_c·x̂ + b̂_c − y_c)²
//     With d = (Ŵ_c − W_c, b̂_c − b_c) and e = W_c·x̂ + b_c − y_c (the float layer's output on the
//     quantized input minus the float model's), f_c = dᵀG d + 2 dᵀu_c + Σe², G = Σ x̃x̃ᵀ over rows
//     (x̃ = [x̂, 1]), u_c = Σ x̃·e_c. G is shared by all channels (of a conv group) and accumulated in
//     chunks with qnn's float GEMM, summed in double; e is computed with qnn's float layer on x̂.
//     Memory: G is (K+1)², the rows are never all kept.
//  3. Search: Ŵ_c = s_c·q with each q_k ∈ {⌊w_k/s_c⌋, ⌈w_k/s_c⌉} ∩ [−L, L] (AdaRound's space; L = 127,
//     64 with reduce_range),
//     starting from the quantizer's rounding. Greedy coordinate descent on the exact quadratic:
//     flipping q_k by δ changes f_c by 2δs·g_k + (δs)²·G_kk, g = G d + u maintained incrementally
//     (O(K) per accepted flip), less what re-minimising the bias after the flip recovers; a flip
//     is taken when the two together lower f_c. The bias, continuous (its step
//     s_x·s_w is far below the weights'), is set to its exact minimizer −g_b/G_bb before the first
//     sweep and after each; at most `passes` sweeps, fewer when one flips nothing. The bias is then
//     rounded to int32 and f_c evaluated exactly; a channel whose f_c is not below the plain
//     rounding's keeps its original weights and bias. So the layer's objective never gets worse.
//  Scales never change (XINT8's power-of-two scales stay); MatMul keeps a zero bias (it has none).
//
// Why greedy instead of AdaRound's annealed sigmoid relaxation with Adam: the objective of one
// layer before its activation is an exact quadratic (G precomputed), so each candidate flip is
// evaluated exactly in O(1) and descent is monotone, deterministic and needs no hyper-parameters
// (learning rate, β schedule, regularizer weight); AdaRound's own ablation shows the pre-activation
// layer-wise objective close to its best variant. Cost: building G, O(rows·K²) in float GEMM;
// the sweeps, O(K·M) checks plus O(K) per flip.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/kernels/gemm.hpp"
#include "qnn/kernels/geometry.hpp"
#include "qnn/numerics/rounding.hpp"
#include "qnn/quantize/calib_reader.hpp"
#include "qnn/quantize/config.hpp"
#include "qnn/quantize/qdq_layers.hpp"
#include "qnn/runtime/ops/window_attrs.hpp"
#include "qnn/runtime/session.hpp"
#include "qnn/runtime/thread_pool.hpp"

namespace qnn::quant {

struct FinetuneLayerResult {
  std::string layer;
  std::int64_t rows = 0;
  double before = 0;           // objective with the quantizer's rounding: mean over rows and channels
  double after = 0;            // of (Ŵx̂ + b̂ − y)²; after ≤ before
  std::int64_t flipped = 0;    // weights rounded the other way
  std::int64_t weights = 0;
  std::int64_t kept = 0;       // channels left as they were (no improvement)
};

namespace detail {

// How a layer's input batch splits into rows: `samples` samples with `positions` output positions
// each; a row of group g is the layer's input patch there (k values) and its m_per_group outputs.
class LayerRows {
 public:
  LayerRows(const QdqLayer& L, const Shape& x) : op_(L.op_type), channels_(L.channels) {
    const Shape& ws = L.weight.shape();
    if (op_ == "Conv") {
      const int spatial = ws.rank() - 2;
      const Shape x4 = ops::as_4d(x, spatial);
      const Shape w4 = ops::as_4d(ws, spatial);
      const auto attrs = ops::WindowAttrs::read(L.float_node.attrs, spatial, false);
      const Window2D win = attrs.resolve(x4[2], x4[3], {w4[2], w4[3]});
      geo_ = make_conv_geometry(x4, w4, win, L.float_node.attrs.get_int("group", 1));
      groups_ = geo_.groups;
      k_ = geo_.k();
      samples_ = geo_.n;
      positions_ = geo_.oh * geo_.ow;
    } else {
      trans_a_ = op_ == "Gemm" && L.float_node.attrs.get_int("transA", 0);
      trans_b_ = op_ == "Gemm" && L.float_node.attrs.get_int("transB", 0);
      k_ = trans_b_ ? ws[1] : ws[0];
      if (trans_a_) {
        check(x.rank() == 2 && x[0] == k_, "input ", x, " does not match K = ", k_);
        samples_ = x[1];
        positions_ = 1;
      } else {
        check(x.rank() >= 2 && x[x.rank() - 1] == k_, "input ", x, " does not match K = ", k_);
        samples_ = x[0];
        positions_ = samples_ ? x.numel() / (samples_ * k_) : 0;
      }
    }
  }
  std::int64_t groups() const { return groups_; }
  std::int64_t k() const { return k_; }
  std::int64_t m_per_group() const { return channels_ / groups_; }
  std::int64_t samples() const { return samples_; }
  std::int64_t positions() const { return positions_; }

  // The input patch of sample i, position p, group g (k values, the order of the weights' row).
  void patch(const float* x, std::int64_t i, std::int64_t p, std::int64_t g, float* out) const {
    if (op_ == "Conv") {
      const auto& w = geo_.win;
      const std::int64_t oy = p / geo_.ow, ox = p % geo_.ow;
      const std::int64_t cpg = geo_.c_per_group();
      for (std::int64_t ci = 0; ci < cpg; ++ci) {
        const float* plane = x + ((i * geo_.c + g * cpg + ci) * geo_.h) * geo_.w;
        for (std::int64_t ky = 0; ky < w.kernel[0]; ++ky) {
          const std::int64_t iy = oy * w.strides[0] - w.pads[0] + ky * w.dilations[0];
          for (std::int64_t kx = 0; kx < w.kernel[1]; ++kx) {
            const std::int64_t ix = ox * w.strides[1] - w.pads[1] + kx * w.dilations[1];
            *out++ = iy >= 0 && iy < geo_.h && ix >= 0 && ix < geo_.w ? plane[iy * geo_.w + ix] : 0.0f;
          }
        }
      }
    } else if (trans_a_) {
      for (std::int64_t k = 0; k < k_; ++k) out[k] = x[k * samples_ + i];
    } else {
      std::copy_n(x + (i * positions_ + p) * k_, k_, out);
    }
  }
  // Index of output channel c at sample i, position p in the layer's output tensor.
  std::size_t out_index(std::int64_t i, std::int64_t p, std::int64_t c) const {
    if (op_ == "Conv") return static_cast<std::size_t>((i * channels_ + c) * positions_ + p);
    return static_cast<std::size_t>((i * positions_ + p) * channels_ + c);
  }
  // Index of weight k (within its group's row) of output channel c in the weight tensor.
  std::size_t weight_index(std::int64_t c, std::int64_t k) const {
    if (op_ == "Conv" || trans_b_) return static_cast<std::size_t>(c * k_ + k);
    return static_cast<std::size_t>(k * channels_ + c);
  }

 private:
  std::string op_;
  std::int64_t channels_;
  ConvGeometry geo_;
  bool trans_a_ = false, trans_b_ = false;
  std::int64_t groups_ = 1, k_ = 0, samples_ = 0, positions_ = 0;
};

// Σ x̃x̃ᵀ, Σ x̃·e_c and Σ e_c² of one group's rows, accumulated chunk by chunk.
class RowStats {
 public:
  static constexpr std::int64_t kChunk = 256;
  RowStats(std::int64_t k, std::int64_t m)
      : k1_(k + 1), m_(m), g_(static_cast<std::size_t>(k1_ * k1_), 0.0), u_(static_cast<std::size_t>(m * k1_), 0.0),
        ee_(static_cast<std::size_t>(m), 0.0), x_(static_cast<std::size_t>(kChunk * k1_)),
        e_(static_cast<std::size_t>(kChunk * m)) {}

  float* next_x() { return x_.data() + n_ * k1_; }
  float* next_e() { return e_.data() + n_ * m_; }
  void push() {
    x_[static_cast<std::size_t>(n_ * k1_ + k1_ - 1)] = 1.0f;
    if (++n_ == kChunk) flush();
    ++rows_;
  }
  void flush() {
    if (n_ == 0) return;
    std::vector<float> xt(static_cast<std::size_t>(k1_ * n_));
    for (std::int64_t r = 0; r < n_; ++r)
      for (std::int64_t k = 0; k < k1_; ++k) xt[static_cast<std::size_t>(k * n_ + r)] = x_[static_cast<std::size_t>(r * k1_ + k)];
    const TensorView<const float> a(xt.data(), Shape{k1_, n_});
    std::vector<float> prod(static_cast<std::size_t>(k1_ * std::max(k1_, m_)));
    FloatGemm<float>(TensorView<const float>(x_.data(), Shape{n_, k1_}), {}, GemmOptions{})
        .run(a, TensorView<float>(prod.data(), Shape{k1_, k1_}));
    for (std::size_t i = 0; i < g_.size(); ++i) g_[i] += prod[i];
    FloatGemm<float>(TensorView<const float>(e_.data(), Shape{n_, m_}), {}, GemmOptions{})
        .run(a, TensorView<float>(prod.data(), Shape{k1_, m_}));
    for (std::int64_t k = 0; k < k1_; ++k)
      for (std::int64_t c = 0; c < m_; ++c)
        u_[static_cast<std::size_t>(c * k1_ + k)] += prod[static_cast<std::size_t>(k * m_ + c)];
    for (std::int64_t r = 0; r < n_; ++r)
      for (std::int64_t c = 0; c < m_; ++c) {
        const double e = e_[static_cast<std::size_t>(r * m_ + c)];
        ee_[static_cast<std::size_t>(c)] += e * e;
      }
    n_ = 0;
  }
  std::int64_t k1() const { return k1_; }
  std::int64_t rows() const { return rows_; }
  const double* g_row(std::int64_t k) const { return g_.data() + k * k1_; }
  const double* u(std::int64_t c) const { return u_.data() + c * k1_; }
  double ee(std::int64_t c) const { return ee_[static_cast<std::size_t>(c)]; }

 private:
  std::int64_t k1_, m_;
  std::vector<double> g_, u_, ee_;
  std::vector<float> x_, e_;
  std::int64_t n_ = 0, rows_ = 0;
};

// One output channel: its float weights w (k), scale s, current int8 q (k) and bias (float b, int32 bq
// at scale sb); on return q and bq hold the result. Returns {f before, f after, flips}.
struct ChannelFit {
  double before = 0, after = 0;
  std::int64_t flips = 0;
  bool kept = false;
};

inline ChannelFit fit_channel(const RowStats& st, std::int64_t c, std::span<const float> w, double s,
                              std::span<std::int8_t> q, double b, std::int32_t& bq, float sb, bool bias, int passes,
                              int levels) {
  const std::int64_t k = static_cast<std::int64_t>(w.size());
  const std::int64_t k1 = k + 1;
  const double* u = st.u(c);
  std::vector<double> d(static_cast<std::size_t>(k1)), g(u, u + k1);
  std::vector<std::int8_t> lo(static_cast<std::size_t>(k)), hi(static_cast<std::size_t>(k));
  const std::vector<std::int8_t> q0(q.begin(), q.end());
  const std::int32_t bq0 = bq;
  for (std::int64_t j = 0; j < k; ++j) {
    const auto J = static_cast<std::size_t>(j);
    const double r = double{w[J]} / s;
    lo[J] = static_cast<std::int8_t>(std::clamp(std::floor(r), -double(levels), double(levels)));
    hi[J] = static_cast<std::int8_t>(std::clamp(std::ceil(r), -double(levels), double(levels)));
    d[J] = s * q[J] - double{w[J]};
  }
  const auto bias_value = [&](std::int32_t v) { return double{sb} * v; };
  d[static_cast<std::size_t>(k)] = bias_value(bq) - b;
  auto axpy = [&](double a, std::int64_t row) {
    const double* gr = st.g_row(row);
    for (std::int64_t i = 0; i < k1; ++i) g[static_cast<std::size_t>(i)] += a * gr[i];
  };
  for (std::int64_t j = 0; j < k1; ++j)
    if (d[static_cast<std::size_t>(j)] != 0) axpy(d[static_cast<std::size_t>(j)], j);
  auto objective = [&] {
    double f = st.ee(c);
    for (std::int64_t j = 0; j < k1; ++j) f += d[static_cast<std::size_t>(j)] * (g[static_cast<std::size_t>(j)] + u[j]);
    return f;
  };
  ChannelFit r;
  r.before = objective();
  const double gbb = st.g_row(k)[k];
  auto bias_step = [&] {
    if (!bias || !(gbb > 0)) return;
    const double t = -g[static_cast<std::size_t>(k)] / gbb;
    d[static_cast<std::size_t>(k)] += t;
    axpy(t, k);
  };
  bias_step();
  for (int pass = 0; pass < passes; ++pass) {
    std::int64_t flips = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      const auto J = static_cast<std::size_t>(j);
      const std::int8_t alt = q[J] == lo[J] ? hi[J] : q[J] == hi[J] ? lo[J] : q[J];
      if (alt == q[J]) continue;
      const double delta = s * (alt - q[J]);
      const double* gj = st.g_row(j);
      double change = 2 * delta * g[J] + delta * delta * gj[j];
      if (bias && gbb > 0) {
        // The flip is judged with the bias re-minimised after it, as it will be: a flip whose effect
        // is mostly a constant shift of the output is then not penalised for what the bias absorbs.
        const double gb = g[static_cast<std::size_t>(k)];
        change += (gb * gb - (gb + delta * gj[k]) * (gb + delta * gj[k])) / gbb;
      }
      if (change < 0) {
        q[J] = alt;
        d[J] += delta;
        axpy(delta, j);
        bias_step();
        ++flips;
      }
    }
    bias_step();
    r.flips += flips;
    if (flips == 0) break;
  }
  if (bias) {  // the int32 bias the layer will hold, as quantize_bias rounds it
    const double want = b + d[static_cast<std::size_t>(k)];
    const float v = static_cast<float>(want);
    const double rq = round_half_even(double{v} / double{sb});
    bq = static_cast<std::int32_t>(std::clamp(rq, -2147483648.0, 2147483647.0));
    const double t = bias_value(bq) - b - d[static_cast<std::size_t>(k)];
    d[static_cast<std::size_t>(k)] += t;
    axpy(t, k);
  }
  r.after = objective();
  if (!(r.after < r.before)) {
    std::copy(q0.begin(), q0.end(), q.begin());
    bq = bq0;
    r.after = r.before;
    r.flips = 0;
    r.kept = true;
  } else {
    r.flips = 0;
    for (std::size_t j = 0; j < q.size(); ++j) r.flips += q[j] != q0[j];
  }
  return r;
}

}  // namespace detail

inline std::vector<FinetuneLayerResult> finetune(const Graph& float_graph, Graph& qdq_graph, CalibrationReader& reader,
                                                 const QuantConfig& cfg, int threads, std::vector<std::string>& log) {
  const FinetuneOptions& opt = cfg.finetune_options;
  const std::int64_t samples = std::min(opt.samples, reader.samples());
  std::vector<FinetuneLayerResult> results;
  std::vector<QdqLayer> layers = qdq_layers(float_graph, qdq_graph, "finetune", log);
  for (std::size_t li = 0; li < layers.size(); ++li) {
    QdqLayer& L = layers[li];
    with_context("finetune of '" + L.name + "'", [&] {
      const Session taps = tap_session(qdq_graph, {L.input}, true, threads);
      const Session ftaps = tap_session(float_graph, {L.float_output}, false, threads);
      const bool has_bias_input = L.can_have_bias();
      const Session layer =
          layer_session(single_layer_graph(L, L.weight, has_bias_input ? &L.bias : nullptr, float_graph.opsets));
      std::mt19937_64 rng(opt.seed ^ (0x9E3779B97F4A7C15ull * (li + 1)));
      std::vector<detail::RowStats> stats;
      std::optional<detail::LayerRows> shape0;
      RunContext c1, c2, c3;
      std::vector<Tensor> xo, yo, zo;
      std::vector<std::int64_t> order;
      for_first_samples(reader, samples, [&](const std::vector<Tensor>& batch) {
        taps.run(c1, batch, xo);
        ftaps.run(c2, batch, yo);
        layer.run(c3, std::span<const Tensor>(&xo[0], 1), zo);
        check(yo[0].shape() == zo[0].shape(), "the float model's output ", yo[0].shape(),
              " and the layer's output on the quantized input ", zo[0].shape(), " differ in shape");
        const detail::LayerRows rows(L, xo[0].shape());
        if (stats.empty())
          for (std::int64_t g = 0; g < rows.groups(); ++g) stats.emplace_back(rows.k(), rows.m_per_group());
        check(stats[0].k1() == rows.k() + 1, "layer input patches changed size between batches");
        const std::int64_t per_sample =
            std::min(rows.positions(), (opt.rows + samples - 1) / samples);
        order.resize(static_cast<std::size_t>(rows.positions()));
        const float* x = xo[0].span<float>().data();
        const auto y = yo[0].span<float>();
        const auto z = zo[0].span<float>();
        for (std::int64_t i = 0; i < rows.samples(); ++i) {
          for (std::size_t p = 0; p < order.size(); ++p) order[p] = static_cast<std::int64_t>(p);
          for (std::int64_t j = 0; j < per_sample; ++j) {  // partial Fisher–Yates with the raw engine
            const auto left = static_cast<std::uint64_t>(rows.positions() - j);
            std::swap(order[static_cast<std::size_t>(j)], order[static_cast<std::size_t>(j + static_cast<std::int64_t>(rng() % left))]);
            const std::int64_t p = order[static_cast<std::size_t>(j)];
            for (std::int64_t g = 0; g < rows.groups(); ++g) {
              detail::RowStats& st = stats[static_cast<std::size_t>(g)];
              rows.patch(x, i, p, g, st.next_x());
              float* e = st.next_e();
              for (std::int64_t c = 0; c < rows.m_per_group(); ++c) {
                const std::size_t o = rows.out_index(i, p, g * rows.m_per_group() + c);
                e[c] = z[o] - y[o];
              }
              st.push();
            }
          }
        }
        if (!shape0) shape0.emplace(rows);
      });
      for (auto& st : stats) st.flush();
      const detail::LayerRows& rows = *shape0;

      // Solve channel by channel (independent, so threads split them without changing the result).
      Tensor q = quantized_weight(qdq_graph, L);
      std::vector<std::int32_t> bq(static_cast<std::size_t>(L.channels), 0);
      std::vector<float> sb(static_cast<std::size_t>(L.channels));
      for (std::int64_t c = 0; c < L.channels; ++c) {
        const auto C = static_cast<std::size_t>(c);
        sb[C] = L.input_scale * L.weight_scale(c);
        bq[C] = L.bias_q.empty() ? 0 : qdq_graph.constant(L.bias_q)->span<std::int32_t>()[C];
      }
      std::vector<detail::ChannelFit> fits(static_cast<std::size_t>(L.channels));
      const auto wv = L.weight.span<float>();
      auto qv = q.span<std::int8_t>();
      auto solve = [&](int, std::int64_t begin, std::int64_t end) {
        std::vector<float> w(static_cast<std::size_t>(rows.k()));
        std::vector<std::int8_t> qc(w.size());
        for (std::int64_t c = begin; c < end; ++c) {
          for (std::int64_t j = 0; j < rows.k(); ++j) {
            w[static_cast<std::size_t>(j)] = wv[rows.weight_index(c, j)];
            qc[static_cast<std::size_t>(j)] = qv[rows.weight_index(c, j)];
          }
          const auto C = static_cast<std::size_t>(c);
          fits[C] = detail::fit_channel(stats[static_cast<std::size_t>(c / rows.m_per_group())], c % rows.m_per_group(), w,
                                        double{L.weight_scale(c)}, qc, double{L.bias[C]}, bq[C], sb[C], has_bias_input,
                                        opt.passes, cfg.weight.symmetric_levels());
          for (std::int64_t j = 0; j < rows.k(); ++j) qv[rows.weight_index(c, j)] = qc[static_cast<std::size_t>(j)];
        }
      };
      if (threads > 1) {
        ThreadPool pool(threads);
        pool.parallel_for(L.channels, solve);
      } else {
        solve(0, 0, L.channels);
      }

      FinetuneLayerResult r;
      r.layer = L.name;
      r.rows = stats[0].rows();
      r.weights = L.weight.numel();
      std::int64_t bias_changed = 0;
      for (std::int64_t c = 0; c < L.channels; ++c) {
        const auto& f = fits[static_cast<std::size_t>(c)];
        r.before += f.before;
        r.after += f.after;
        r.flipped += f.flips;
        r.kept += f.kept;
      }
      const double n = static_cast<double>(r.rows) * static_cast<double>(L.channels);
      r.before /= n;
      r.after /= n;
      set_quantized_weight(qdq_graph, L, std::move(q));
      if (has_bias_input) {
        const std::vector<std::int32_t> old = L.bias_q.empty() ? std::vector<std::int32_t>(bq.size(), 0)
                                                               : std::vector<std::int32_t>(qdq_graph.constant(L.bias_q)->span<std::int32_t>().begin(),
                                                                                           qdq_graph.constant(L.bias_q)->span<std::int32_t>().end());
        for (std::size_t c = 0; c < bq.size(); ++c) bias_changed += bq[c] != old[c];
        if (bias_changed) set_quantized_bias(qdq_graph, L, bq);
      }
      log.push_back(qnn::detail::cat(
          "finetune: '", L.name, "' objective mean (Ŵx̂ + b̂ − y)² over ", r.rows, " rows from ", samples, " samples: ",
          r.before, " → ", r.after, " (", r.before > 0 ? 100.0 * (r.after - r.before) / r.before : 0.0, " %); ",
          r.flipped, " of ", r.weights, " weights rounded the other way, ", bias_changed, " of ", L.channels,
          " biases changed, ", r.kept, " channels kept as rounded"));
      results.push_back(r);
    });
  }
  return results;
}

}  // namespace qnn::quant
