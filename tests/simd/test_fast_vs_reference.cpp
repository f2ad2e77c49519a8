// The fast CPU kernels against the scalar reference: integer outputs bit for bit (tolerance 0),
// float outputs within the bound of docs/numerics.md §8, over randomized shapes with tails,
// strides, padding, dilation, groups and extreme zero points, for every requantization policy;
// max pooling (integers and floats) and QuantizeLinear bit for bit, NaN, ±0, ±∞ and ties included;
// a conv with a max pooling fused into it equals the conv followed by the reference pooling.
// Weights are drawn four ways, so that both integer kernels run: full range (int16 pairs), ONNX
// Runtime's reduce_range [−64, 64] and pairs exactly on the int16 edge (the u8×s8 byte kernel on
// x86 targets), and the edge with one pair past it (int16 again); inputs are sometimes only their
// type's extremes, which drive a byte pair to ±255·128. A third of the layers are told their input's
// range (ConvOptions/GemmOptions::input_range, at most 128 values wide, the zero point inside): then
// any symmetric int8 weights take the byte kernel, and inputs on the range's ends drive pairs to
// ±127·254.
//
// This file is compiled into the main suite (native flags) and into one binary per SIMD target
// (tests/CMakeLists.txt); each binary names the target it ran on.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <numeric>
#include <type_traits>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "qnn/kernels/conv2d.hpp"
#include "qnn/kernels/cpu/pool.hpp"
#include "qnn/kernels/cpu/quantize.hpp"
#include "qnn/kernels/cpu/u8s8.hpp"
#include "qnn/kernels/dispatch.hpp"
#include "qnn/kernels/gemm.hpp"
#include "qnn/kernels/ref/pool.hpp"
#include "qnn/kernels/ref/quantize_linear.hpp"
#include "qnn/runtime/thread_pool.hpp"

using namespace qnn;

namespace {

template <class T>
Tensor random_tensor(std::mt19937& rng, const Shape& s, int lo, int hi) {
  Tensor t(dtype_of_v<T>, s);
  std::uniform_int_distribution<int> d(lo, hi);
  for (T& v : t.span<T>()) v = static_cast<T>(d(rng));
  return t;
}

Tensor random_float(std::mt19937& rng, const Shape& s) {
  Tensor t(DType::f32, s);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (float& v : t.span<float>()) v = d(rng);
  return t;
}

template <class T>
std::int64_t count_diff(const Tensor& a, const Tensor& b) {
  std::int64_t n = 0;
  const auto x = a.span<T>();
  const auto y = b.span<T>();
  for (std::size_t i = 0; i < x.size(); ++i) n += x[i] != y[i];
  return n;
}

const RequantPolicy kPolicies[] = {RequantPolicy::onnx_float, RequantPolicy::tflite_double_round,
                                   RequantPolicy::tflite_single_round, RequantPolicy::npu_pow2};

// Scales: powers of two for npu_pow2, arbitrary otherwise.
float pick_scale(std::mt19937& rng, RequantPolicy p) {
  if (p == RequantPolicy::npu_pow2) return std::ldexp(1.0f, -std::uniform_int_distribution<int>(2, 9)(rng));
  return std::uniform_real_distribution<float>(0.002f, 0.05f)(rng);
}

// Bitwise comparison: for floats, NaN payloads and the sign of zero count too.
template <class T>
std::int64_t count_bit_diff(const Tensor& a, const Tensor& b) {
  std::int64_t n = 0;
  const auto x = a.span<T>();
  const auto y = b.span<T>();
  for (std::size_t i = 0; i < x.size(); ++i) n += std::memcmp(&x[i], &y[i], sizeof(T)) != 0;
  return n;
}

// How a case draws its int8 weights (see the header comment).
enum class WeightKind { full, reduced, edge, past_edge };

bool target_has_byte_kernel() {
  const simd::KernelTable* t = simd::kernel_table();
  return !t || t->gemm_u8s8;  // x86 SIMD targets and the portable loops
}

// channels × k signed weights of the given kind, W[c·k + j]; pairs are (2i, 2i+1) along k.
std::vector<std::int8_t> draw_weights(std::mt19937& rng, WeightKind kind, std::int64_t channels, std::int64_t k) {
  std::uniform_int_distribution<int> full(-127, 127), reduced(-64, 64), mag(1, 127), coin(0, 2);
  std::vector<std::int8_t> w(static_cast<std::size_t>(channels * k));
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t j = 0; j < k; j += 2) {
      std::int8_t* p = w.data() + c * k + j;
      const bool pair = j + 1 < k;
      if (kind == WeightKind::full) {
        p[0] = static_cast<std::int8_t>(full(rng));
        if (pair) p[1] = static_cast<std::int8_t>(full(rng));
      } else if (kind == WeightKind::reduced || !pair) {
        p[0] = static_cast<std::int8_t>(reduced(rng));
        if (pair) p[1] = static_cast<std::int8_t>(reduced(rng));
      } else {  // both positive summing to 128, both negative to −128, or opposite signs
        const int a = mag(rng), side = coin(rng);
        p[0] = static_cast<std::int8_t>(side == 0 ? a : side == 1 ? -a : a);
        p[1] = static_cast<std::int8_t>(side == 0 ? 128 - a : side == 1 ? a - 128 : -mag(rng));
      }
    }
  if (kind == WeightKind::past_edge) {  // one pair of one channel at 129
    if (k < 2) {
      w[0] = -128;  // a lone weight can never saturate: this stays within the edge
    } else {
      const std::int64_t c = std::uniform_int_distribution<std::int64_t>(0, channels - 1)(rng);
      const std::int64_t j = 2 * std::uniform_int_distribution<std::int64_t>(0, k / 2 - 1)(rng);
      w[static_cast<std::size_t>(c * k + j)] = 2;
      w[static_cast<std::size_t>(c * k + j + 1)] = 127;
    }
  }
  return w;
}

// Whether a layer with these weights (k per channel, `weights` in all) should run the byte kernel on
// this target: past_edge needs one fix, which the layer takes when it has `weights_per_fix` weights
// (cpu::byte_plan).
bool expect_byte_kernel(WeightKind kind, std::int64_t k, std::int64_t weights, std::int64_t weights_per_fix) {
  if (!target_has_byte_kernel()) return false;
  return kind == WeightKind::reduced || kind == WeightKind::edge ||
         (kind == WeightKind::past_edge && (k < 2 || weights >= weights_per_fix));
}

// Values in r; half the time only its two ends.
template <class TIn>
Tensor draw_input(std::mt19937& rng, const Shape& s, IntRange r = storage_range<TIn>()) {
  Tensor x = random_tensor<TIn>(rng, s, r.lo, r.hi);
  const int mid = (r.lo + r.hi + 1) / 2;
  if (std::uniform_int_distribution<int>(0, 1)(rng) == 0)
    for (TIn& v : x.span<TIn>()) v = static_cast<TIn>(v < mid ? r.lo : r.hi);
  return x;
}

// A known input range for a third of the layers: 1 to 128 values wide (the width of symmetric int8
// activations after a ReLU most often), holding the zero point, which is its low end half the time
// (as after a ReLU). Without one, zx is kept.
template <class TIn>
std::optional<IntRange> draw_range(std::mt19937& rng, std::int32_t& zx) {
  std::uniform_int_distribution<int> pick(0, 1000);
  if (pick(rng) % 3 != 0) return std::nullopt;
  const int width = pick(rng) % 2 ? 127 : pick(rng) % 128;
  const int lo = std::uniform_int_distribution<int>(std::numeric_limits<TIn>::min(),
                                                    std::numeric_limits<TIn>::max() - width)(rng);
  zx = pick(rng) % 2 ? lo : std::uniform_int_distribution<int>(lo, lo + width)(rng);
  return IntRange{lo, lo + width};
}

// An Exec with a pool of `threads` threads (1: the calling thread only).
struct TestExec {
  explicit TestExec(int threads) : pool(threads), ws(static_cast<std::size_t>(threads)) {}
  cpu::Exec exec() { return cpu::Exec{pool.threads() > 1 ? &pool : nullptr, &ws}; }
  ThreadPool pool;
  std::vector<cpu::Workspace> ws;
};

// A random max pooling over a conv output of shape y (kernel ≤ 3, any stride, dilation, padding and
// ceil_mode); some of its windows may cover no input pixel. A third are the common 2×2/2 (the pair
// path when ow·2 = w), a sixth other windows that tile the output (kernel = stride, no padding: the
// pooling may run on the sums, cpu::pool_sums_lanes).
PoolGeometry random_pool(std::mt19937& rng, const Shape& y) {
  std::uniform_int_distribution<int> pick(0, 1000);
  if (pick(rng) % 3 == 0 && y[2] >= 2 && y[3] >= 2)
    return make_pool_geometry(y, Window2D{{2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}}, pick(rng) % 3 == 0);
  if (pick(rng) % 4 == 0) {
    static constexpr std::array<std::array<std::int64_t, 2>, 6> kTiles{{{1, 2}, {2, 1}, {2, 4}, {4, 2}, {3, 3}, {1, 8}}};
    const auto k = kTiles[static_cast<std::size_t>(pick(rng)) % kTiles.size()];
    if (k[0] <= y[2] && k[1] <= y[3]) return make_pool_geometry(y, Window2D{k, k, {1, 1}, {0, 0, 0, 0}}, pick(rng) % 3 == 0);
  }
  Window2D win;
  win.kernel = {1 + pick(rng) % std::min<std::int64_t>(3, y[2]), 1 + pick(rng) % std::min<std::int64_t>(3, y[3])};
  win.strides = {1 + pick(rng) % 3, 1 + pick(rng) % 3};
  win.dilations = {1, 1 + pick(rng) % 2};
  if ((win.kernel[1] - 1) * win.dilations[1] + 1 > y[3]) win.dilations[1] = 1;
  win.pads = {pick(rng) % win.kernel[0], pick(rng) % win.kernel[1], pick(rng) % win.kernel[0], pick(rng) % win.kernel[1]};
  return make_pool_geometry(y, win, pick(rng) % 3 == 0);
}

// The conv run with the pooling fused (`pooled`, one call) against the unfused output `full` pooled
// by the reference: equal bit for bit, or — for a window over no input pixel — the same refusal.
template <class T, class Conv, class In>
void check_fused_pool(std::mt19937& rng, const Conv& conv, const In& x, const Tensor& full, cpu::Exec ex) {
  const PoolGeometry pg = random_pool(rng, full.shape());
  Tensor pooled(dtype_of_v<T>, pg.output_shape()), expect(dtype_of_v<T>, pg.output_shape());
  INFO("fused pool kernel ", pg.win.kernel[0], "x", pg.win.kernel[1], " strides ", pg.win.strides[0], "x",
       pg.win.strides[1], " dil ", pg.win.dilations[1], " pads ", pg.win.pads[0], ",", pg.win.pads[1], ",",
       pg.win.pads[2], ",", pg.win.pads[3], " ceil ", pg.ceil_mode);
  if (!cpu::every_window_hits_input(pg)) {
    CHECK_THROWS_AS(conv.run(x, pooled.view<T>(), ex, &pg), qnn::error);
    return;
  }
  conv.run(x, pooled.view<T>(), ex, &pg);
  ref::max_pool(pg, full.view<const T>(), expect.view<T>());
  CHECK(count_bit_diff<T>(pooled, expect) == 0);
}

template <class TIn>
void conv_case(std::mt19937& rng, int iteration) {
  std::uniform_int_distribution<int> pick(0, 1000);
  const std::int64_t groups = std::vector<std::int64_t>{1, 1, 2, 3}[static_cast<std::size_t>(pick(rng) % 4)];
  const bool depthwise = pick(rng) % 5 == 0;
  // Channels per group: whole pairs and quads pack in channel units (kernels/cpu/conv.hpp), others
  // in the weights' order.
  const std::int64_t cpg = depthwise ? 1 : std::vector<std::int64_t>{1, 2, 3, 4, 5, 8, 12}[static_cast<std::size_t>(pick(rng) % 7)];
  const std::int64_t c = depthwise ? 1 + pick(rng) % 6 : cpg * groups;
  const std::int64_t g = depthwise ? c : groups;
  const std::int64_t m = g * (1 + pick(rng) % 6);
  const std::int64_t kh = 1 + pick(rng) % 4, kw = 1 + pick(rng) % 4;
  Window2D win;
  win.strides = {1 + pick(rng) % 3, 1 + pick(rng) % 3};
  win.dilations = {1 + pick(rng) % 2, 1 + pick(rng) % 2};
  win.pads = {pick(rng) % 3, pick(rng) % 3, pick(rng) % 3, pick(rng) % 2};
  const std::int64_t h = (kh - 1) * win.dilations[0] + 1 + pick(rng) % 9;
  const std::int64_t w = (kw - 1) * win.dilations[1] + 1 + pick(rng) % 11;
  const std::int64_t n = 1 + pick(rng) % 3;
  const RequantPolicy policy = kPolicies[iteration % 4];
  const std::int32_t zx_choices[] = {std::numeric_limits<TIn>::min(), std::numeric_limits<TIn>::max(), 0, 7};
  std::int32_t zx = zx_choices[pick(rng) % 4];
  const auto kind = static_cast<WeightKind>(pick(rng) % 4);
  const bool asym_w = kind == WeightKind::full && pick(rng) % 2 == 0;
  const bool relu = pick(rng) % 2 == 0;
  const std::optional<IntRange> range = draw_range<TIn>(rng, zx);

  const Tensor x = draw_input<TIn>(rng, Shape{n, c, h, w}, range.value_or(storage_range<TIn>()));
  Tensor wt(DType::i8, Shape{m, c / g, kh, kw});
  // Pairs are drawn along the byte packing's k order: with whole channel quads per group that is
  // (channel block, kernel row, kernel column, channel in block) — a pair is two channels at one
  // tap — otherwise the weights' own order (kernels/cpu/conv.hpp, conv_channel_unit).
  const std::int64_t kk = wt.numel() / m, taps = kh * kw, unit = (c / g) % 4 == 0 ? 4 : 1;
  const auto drawn = draw_weights(rng, kind, m, kk);
  for (std::int64_t oc = 0; oc < m; ++oc)
    for (std::int64_t j = 0; j < kk; ++j) {
      const std::int64_t block = j / unit / taps, tap = j / unit % taps;
      wt.span<std::int8_t>()[static_cast<std::size_t>(oc * kk + (block * unit + j % unit) * taps + tap)] =
          drawn[static_cast<std::size_t>(oc * kk + j)];
    }
  std::vector<float> ws;
  std::vector<std::int32_t> wz;
  for (std::int64_t i = 0; i < m; ++i) {
    ws.push_back(pick_scale(rng, policy));
    wz.push_back(asym_w ? std::uniform_int_distribution<int>(-20, 20)(rng) : 0);
  }
  std::vector<std::int32_t> bias;
  for (std::int64_t i = 0; i < m; ++i) bias.push_back(std::uniform_int_distribution<int>(-3000, 3000)(rng));
  const PerTensor<TIn> xq(pick_scale(rng, policy), zx);
  const PerTensor<std::uint8_t> yq(pick_scale(rng, policy), static_cast<std::int32_t>(pick(rng) % 256));
  const PerChannel<std::int8_t> wq(0, ws, wz);
  ConvOptions o;
  o.window = win;
  o.groups = g;
  o.policy = policy;
  o.input_range = range;
  if (relu) o.activation = ActivationClamp::relu();
  const QView<const std::int8_t, PerChannel<std::int8_t>> wv{wt.view<std::int8_t>(), wq};
  const QuantizedConv2D<TIn, std::int8_t, std::uint8_t> fast(xq, wv, bias, yq, o);
  o.reference = true;
  const QuantizedConv2D<TIn, std::int8_t, std::uint8_t> ref(xq, wv, bias, yq, o);
  const Shape ys = fast.geometry(x.shape()).output_shape();
  Tensor y1(DType::u8, ys), y2(DType::u8, ys);
  // Every other case on two threads: small batches then split output pixels between them.
  TestExec ex(iteration % 2 == 0 ? 1 : 2);
  fast.run(x.view<TIn>(), y1.view<std::uint8_t>(), ex.exec());
  ref.run(x.view<TIn>(), y2.view<std::uint8_t>());
  INFO("target ", std::string(simd::active_target()), " threads ", ex.pool.threads(), " policy ", name_of(policy),
       " x ", x.shape(), " w ", wt.shape(),
       " groups ", g, " strides ", win.strides[0], "x", win.strides[1], " dil ", win.dilations[0], "x",
       win.dilations[1], " pads ", win.pads[0], ",", win.pads[1], ",", win.pads[2], ",", win.pads[3], " zx ", zx,
       " range ", range ? range->lo : 0, "..", range ? range->hi : 0, " weights ", static_cast<int>(kind),
       " asym ", asym_w, " byte kernel ", fast.byte_kernel());
  if (range && !asym_w)
    CHECK(fast.byte_kernel() == target_has_byte_kernel());
  else if (!range && kind != WeightKind::full)
    CHECK(fast.byte_kernel() == expect_byte_kernel(kind, wt.numel() / m, wt.numel(), cpu::kConvWeightsPerPairFix));
  CHECK(count_diff<std::uint8_t>(y1, y2) == 0);
  check_fused_pool<std::uint8_t>(rng, fast, x.view<TIn>(), y2, ex.exec());
}

template <class TIn>
void fc_case(std::mt19937& rng, int iteration) {
  std::uniform_int_distribution<int> pick(0, 1000);
  const std::int64_t m = 1 + pick(rng) % 9;
  const std::int64_t k = 1 + pick(rng) % 70;
  const std::int64_t n = 1 + pick(rng) % 45;
  const bool ta = pick(rng) % 2, tb = pick(rng) % 2;
  const RequantPolicy policy = kPolicies[iteration % 4];
  std::int32_t zx = pick(rng) % 2 ? 0 : std::numeric_limits<TIn>::max();
  const std::optional<IntRange> range = draw_range<TIn>(rng, zx);
  const Tensor a = draw_input<TIn>(rng, ta ? Shape{k, m} : Shape{m, k}, range.value_or(storage_range<TIn>()));
  const auto kind = static_cast<WeightKind>(pick(rng) % 4);
  const auto drawn = draw_weights(rng, kind, n, k);  // W[n][k]
  Tensor b(DType::i8, tb ? Shape{n, k} : Shape{k, n});
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < k; ++j)
      b.span<std::int8_t>()[static_cast<std::size_t>(tb ? i * k + j : j * n + i)] = drawn[static_cast<std::size_t>(i * k + j)];
  if (kind == WeightKind::full && pick(rng) % 4 == 0) b.span<std::int8_t>()[0] = -128;
  std::vector<float> ws;
  for (std::int64_t i = 0; i < n; ++i) ws.push_back(pick_scale(rng, policy));
  std::vector<std::int32_t> bias;
  for (std::int64_t i = 0; i < n; ++i) bias.push_back(std::uniform_int_distribution<int>(-5000, 5000)(rng));
  const PerTensor<TIn> xq(pick_scale(rng, policy), zx);
  const PerTensor<std::int8_t> yq(pick_scale(rng, policy), pick(rng) % 256 - 128);
  const PerChannel<std::int8_t, float, Symmetry::symmetric> wq(tb ? 0 : 1, ws);
  GemmOptions o;
  o.trans_a = ta;
  o.trans_b = tb;
  o.policy = policy;
  o.input_range = range;
  const QView<const std::int8_t, decltype(wq)> bv{b.view<std::int8_t>(), wq};
  const QuantizedGemm<TIn, std::int8_t, std::int8_t> fast(xq, bv, bias, yq, o);
  o.reference = true;
  const QuantizedGemm<TIn, std::int8_t, std::int8_t> ref(xq, bv, bias, yq, o);
  Tensor c1(DType::i8, Shape{m, n}), c2(DType::i8, Shape{m, n});
  fast.run(a.view<TIn>(), c1.view<std::int8_t>());
  ref.run(a.view<TIn>(), c2.view<std::int8_t>());
  INFO("target ", std::string(simd::active_target()), " policy ", name_of(policy), " M ", m, " N ", n, " K ", k, " transA ", ta,
       " transB ", tb, " zx ", zx, " range ", range ? range->lo : 0, "..", range ? range->hi : 0, " weights ",
       static_cast<int>(kind), " byte kernel ", fast.byte_kernel());
  if (range)
    CHECK(fast.byte_kernel() == target_has_byte_kernel());
  else if (kind != WeightKind::full)
    CHECK(fast.byte_kernel() == expect_byte_kernel(kind, k, n * k, cpu::kFcWeightsPerPairFix));
  CHECK(count_diff<std::int8_t>(c1, c2) == 0);
}

// Values that stress a max: the type's extremes, and for floats NaNs with distinct payloads, ±0, ±∞.
template <class T>
T pool_value(std::mt19937& rng, bool specials) {
  std::uniform_int_distribution<int> pick(0, 99);
  if constexpr (std::same_as<T, float>) {
    if (specials) {
      switch (pick(rng) % 12) {
        case 0: return std::bit_cast<float>(0x7FC00000u | static_cast<std::uint32_t>(pick(rng)));
        case 1: return std::bit_cast<float>(0xFFC00000u | static_cast<std::uint32_t>(pick(rng)));
        case 2: return 0.0f;
        case 3: return -0.0f;
        case 4: return std::numeric_limits<float>::infinity();
        case 5: return -std::numeric_limits<float>::infinity();
        default: break;
      }
    }
    return static_cast<float>(pick(rng) % 7 - 3);  // few distinct values: many ties
  } else {
    if (pick(rng) % 8 == 0) return pick(rng) % 2 ? std::numeric_limits<T>::min() : std::numeric_limits<T>::max();
    return static_cast<T>(std::uniform_int_distribution<int>(std::numeric_limits<T>::min(),
                                                             std::numeric_limits<T>::max())(rng));
  }
}

template <class T>
void max_pool_case(std::mt19937& rng, int iteration, const PoolGeometry& g) {
  const bool specials = iteration % 3 != 0;
  Tensor x(dtype_of_v<T>, Shape{g.n, g.c, g.h, g.w});
  for (T& v : x.span<T>()) v = pool_value<T>(rng, specials);
  Tensor y1(dtype_of_v<T>, g.output_shape()), y2(dtype_of_v<T>, g.output_shape());
  TestExec ex(iteration % 2 == 0 ? 1 : 2);
  cpu::max_pool(g, x.view<const T>(), y1.view<T>(), ex.exec());
  ref::max_pool(g, x.view<const T>(), y2.view<T>());
  INFO("target ", std::string(simd::active_target()), " ", name_of(dtype_of_v<T>), " x ", x.shape(), " kernel ",
       g.win.kernel[0], "x", g.win.kernel[1], " strides ", g.win.strides[0], "x", g.win.strides[1], " dil ",
       g.win.dilations[0], "x", g.win.dilations[1], " pads ", g.win.pads[0], ",", g.win.pads[1], ",", g.win.pads[2],
       ",", g.win.pads[3], " ceil ", g.ceil_mode, " threads ", ex.pool.threads());
  CHECK(count_bit_diff<T>(y1, y2) == 0);
}

// cpu::max_pool_planes called directly, as a fused conv calls it: a scratch of exactly the size
// max_pool_planes_scratch asks for, and a guard band after the output that must stay untouched
// (the kernel's vectors run past the last output row, and must stop at the call's end).
template <class T>
void guarded_pool_planes_case(std::mt19937& rng, const PoolGeometry& g) {
  const std::int64_t planes = g.n * g.c, out = planes * g.oh * g.ow;
  Tensor x(dtype_of_v<T>, Shape{g.n, g.c, g.h, g.w}), expect(dtype_of_v<T>, g.output_shape());
  for (T& v : x.span<T>()) v = pool_value<T>(rng, true);
  const T guard = pool_value<T>(rng, true);
  std::vector<T> y(static_cast<std::size_t>(out + 64), guard);
  std::vector<T> scratch(static_cast<std::size_t>(cpu::max_pool_planes_scratch(g)));
  cpu::max_pool_planes(g, std::as_const(x).span<T>().data(), y.data(), planes, scratch.data());
  ref::max_pool(g, x.view<const T>(), expect.view<T>());
  INFO("target ", std::string(simd::active_target()), " ", name_of(dtype_of_v<T>), " x ", x.shape(), " kernel ",
       g.win.kernel[0], "x", g.win.kernel[1], " strides ", g.win.strides[0], "x", g.win.strides[1]);
  CHECK(std::memcmp(y.data(), std::as_const(expect).span<T>().data(), static_cast<std::size_t>(out) * sizeof(T)) == 0);
  CHECK(std::memcmp(y.data() + out, std::vector<T>(64, guard).data(), 64 * sizeof(T)) == 0);
}

// cpu::max_pool_sums called directly, as a conv's epilogue calls it: a block of `rows` rows of
// `groups` runs, the accumulators followed by exactly kPoolSumsOverRead elements, the output at
// column q0 of rows whose writable room (out_room) ends at a band of guards. The pooled values must
// be the definition's, and nothing before q0 or past the room may change.
void guarded_pool_sums_case(std::mt19937& rng) {
  std::uniform_int_distribution<int> pick(0, 1000);
  simd::PoolSumsArgs a;
  a.rows = 1 + pick(rng) % 16;
  a.groups = 1 + pick(rng) % 3;
  a.kh = 1 + pick(rng) % 4;
  a.kw = 1 + pick(rng) % 2;
  a.ow = 1 + pick(rng) % 20;
  a.w = a.ow * a.kw + pick(rng) % 2;  // an odd column no window covers, sometimes
  a.acc_stride = a.groups * a.kh * a.w + pick(rng) % 9;
  const std::int64_t q0 = pick(rng) % 7, outputs = a.groups * a.ow, room = outputs + (pick(rng) % 2 ? 0 : pick(rng) % 12);
  constexpr std::int64_t kGuard = 40;
  a.out_stride = q0 + room + kGuard;
  a.out_room = room;
  std::vector<std::int32_t> acc(static_cast<std::size_t>(a.rows * a.acc_stride + simd::kPoolSumsOverRead));
  std::uniform_int_distribution<std::int32_t> value(std::numeric_limits<std::int32_t>::min(),
                                                    std::numeric_limits<std::int32_t>::max());
  for (auto& v : acc) v = value(rng);
  const std::int32_t guard = value(rng);
  std::vector<std::int32_t> out(static_cast<std::size_t>(a.rows * a.out_stride), guard);
  a.acc = acc.data();
  a.out = out.data() + q0;
  cpu::max_pool_sums(a);
  INFO("target ", std::string(simd::active_target()), " rows ", a.rows, " groups ", a.groups, " window ", a.kh, "x",
       a.kw, " w ", a.w, " ow ", a.ow, " q0 ", q0, " room ", room);
  std::int64_t wrong = 0, touched = 0;
  for (std::int64_t s = 0; s < a.rows; ++s) {
    const std::int32_t* row = out.data() + s * a.out_stride;
    for (std::int64_t i = 0; i < q0; ++i) touched += row[i] != guard;
    for (std::int64_t i = q0 + room; i < a.out_stride; ++i) touched += row[i] != guard;
    for (std::int64_t grp = 0; grp < a.groups; ++grp)
      for (std::int64_t c = 0; c < a.ow; ++c) {
        std::int32_t best = std::numeric_limits<std::int32_t>::min();
        for (std::int64_t ky = 0; ky < a.kh; ++ky)
          for (std::int64_t kx = 0; kx < a.kw; ++kx)
            best = std::max(best, acc[static_cast<std::size_t>(s * a.acc_stride + (grp * a.kh + ky) * a.w + c * a.kw + kx)]);
        wrong += row[q0 + grp * a.ow + c] != best;
      }
  }
  CHECK(wrong == 0);
  CHECK(touched == 0);
}

template <class T>
void quantize_case(const std::vector<float>& values, const Shape& shape, float scale, std::int32_t zp) {
  Tensor x(DType::f32, shape);
  for (std::size_t i = 0; i < x.span<float>().size(); ++i) x.span<float>()[i] = values[i % values.size()];
  Tensor y1(dtype_of_v<T>, shape), y2(dtype_of_v<T>, shape);
  const PerTensor<T> q(scale, zp);
  cpu::quantize_linear(x.view<const float>(), y1.view<T>(), q);
  ref::quantize_linear(x.view<const float>(), y2.view<T>(), q);
  INFO("target ", std::string(simd::active_target()), " ", name_of(dtype_of_v<T>), " n ", x.numel(), " scale ",
       scale, " zp ", zp);
  CHECK(count_bit_diff<T>(y1, y2) == 0);
}

}  // namespace

TEST_CASE_TEMPLATE("fast int8 conv equals the reference bit for bit", TIn, std::uint8_t, std::int8_t) {
  std::mt19937 rng(1234);
  MESSAGE("SIMD target: ", std::string(simd::active_target()));
  for (int i = 0; i < 160; ++i) conv_case<TIn>(rng, i);
}

// Convs whose fused max pooling runs on the int32 sums (cpu::pool_sums_lanes: onnx_float factors,
// windows kh × (1 or 2) tiling the output, kh output rows a multiple of the panel width and at most
// a GEMM block): several blocks and row blocks, odd rows and columns no window covers, both kernels
// (full weights: int16; reduced: bytes) and both k orders. The first cases are fixed — the
// Fashion-MNIST CNN's two (56 and 24 lanes), windows of width 1 with rows narrower than a vector —
// then widths are drawn, every fourth freely (some then take the staged path).
TEST_CASE_TEMPLATE("a conv with its max pooling on the sums equals the conv then the pool", TIn, std::uint8_t,
                   std::int8_t) {
  std::mt19937 rng(std::is_signed_v<TIn> ? 4321 : 8765);
  std::uniform_int_distribution<int> pick(0, 1000);
  static constexpr std::array<std::array<std::int64_t, 2>, 7> kTiles{{{2, 2}, {2, 2}, {1, 2}, {2, 1}, {4, 2}, {3, 2}, {4, 1}}};
  const std::int64_t nr = cpu::panel_lanes();
  int on_sums = 0;
  for (int it = 0; it < 28; ++it) {
    const std::int64_t cpg = std::array<std::int64_t, 4>{1, 3, 4, 8}[static_cast<std::size_t>(pick(rng) % 4)];
    const std::int64_t groups = pick(rng) % 4 == 0 ? 2 : 1, c = cpg * groups, m = groups * (1 + pick(rng) % 20);
    const std::int64_t kk = pick(rng) % 3 == 0 ? 1 : 3, pad = kk == 3 ? pick(rng) % 2 : 0;
    Window2D win{{kk, kk}, {1, 1}, {1, 1}, {pad, pad, pad, pad}};
    if (pick(rng) % 5 == 0) win.strides = {2, 2};
    static constexpr std::array<std::array<std::int64_t, 3>, 5> kFixed{{{2, 2, 28}, {2, 2, 12}, {4, 1, 6}, {2, 1, 4}, {1, 2, 24}}};
    auto tile = kTiles[static_cast<std::size_t>(pick(rng)) % kTiles.size()];
    // Output width: a multiple of nr / gcd(kh, nr) up to a block's lanes over kh, or any.
    const std::int64_t unit = nr / std::gcd(tile[0], nr), widest = cpu::kBlockPanels * nr / tile[0];
    std::int64_t ow = unit * (1 + pick(rng) % std::max<std::int64_t>(1, widest / unit));
    if (it % 4 == 3 || ow < tile[1]) ow = tile[1] + pick(rng) % 20;
    if (it < static_cast<int>(kFixed.size())) {
      const auto f = kFixed[static_cast<std::size_t>(it)];
      tile = {f[0], f[1]};
      ow = f[2];
      win.strides = {1, 1};
    }
    const std::int64_t oh = tile[0] + pick(rng) % 12, n = 1 + pick(rng) % 2;
    const std::int64_t h = (oh - 1) * win.strides[0] + kk - 2 * pad, w = (ow - 1) * win.strides[1] + kk - 2 * pad;
    const std::int32_t zx = std::array<std::int32_t, 3>{std::numeric_limits<TIn>::min(), 0, 5}[static_cast<std::size_t>(pick(rng) % 3)];
    const auto kind = pick(rng) % 2 ? WeightKind::full : WeightKind::reduced;
    const Tensor x = draw_input<TIn>(rng, Shape{n, c, h, w});
    const auto drawn = draw_weights(rng, kind, m, cpg * kk * kk);
    Tensor wt(DType::i8, Shape{m, cpg, kk, kk});
    std::copy(drawn.begin(), drawn.end(), wt.span<std::int8_t>().begin());
    std::vector<float> ws;
    std::vector<std::int32_t> bias;
    for (std::int64_t i = 0; i < m; ++i) {
      ws.push_back(pick_scale(rng, RequantPolicy::onnx_float));
      bias.push_back(std::uniform_int_distribution<int>(-3000, 3000)(rng));
    }
    const PerTensor<TIn> xq(pick_scale(rng, RequantPolicy::onnx_float), zx);
    const PerTensor<std::int8_t> yq(pick_scale(rng, RequantPolicy::onnx_float), pick(rng) % 256 - 128);
    const PerChannel<std::int8_t> wq(0, ws, std::vector<std::int32_t>(static_cast<std::size_t>(m), 0));
    ConvOptions o;
    o.window = win;
    o.groups = groups;
    if (pick(rng) % 2) o.activation = ActivationClamp::relu();
    const QView<const std::int8_t, PerChannel<std::int8_t>> wv{wt.view<std::int8_t>(), wq};
    const QuantizedConv2D<TIn, std::int8_t, std::int8_t> fast(xq, wv, bias, yq, o);
    o.reference = true;
    const QuantizedConv2D<TIn, std::int8_t, std::int8_t> ref(xq, wv, bias, yq, o);
    const ConvGeometry g = fast.geometry(x.shape());
    REQUIRE(g.ow == ow);
    const PoolGeometry pg = make_pool_geometry(g.output_shape(), Window2D{tile, tile, {1, 1}, {0, 0, 0, 0}}, pick(rng) % 2);
    const bool sums = cpu::pool_sums_lanes(g, pg, nr) > 0;
    on_sums += sums;
    Tensor full(DType::i8, g.output_shape()), pooled(DType::i8, pg.output_shape()), expect(DType::i8, pg.output_shape());
    ref.run(x.view<TIn>(), full.view<std::int8_t>());
    ref::max_pool(pg, full.view<const std::int8_t>(), expect.view<std::int8_t>());
    TestExec ex(it % 2 == 0 ? 1 : 2);
    fast.run(x.view<TIn>(), pooled.view<std::int8_t>(), ex.exec(), &pg);
    INFO("target ", std::string(simd::active_target()), " x ", x.shape(), " w ", wt.shape(), " groups ", groups,
         " pad ", pad, " stride ", win.strides[0], " pool ", tile[0], "x", tile[1], " ceil ", pg.ceil_mode,
         " byte kernel ", fast.byte_kernel(), " threads ", ex.pool.threads(), " on the sums ", sums);
    CHECK(count_diff<std::int8_t>(pooled, expect) == 0);
  }
  CHECK(on_sums >= 14);
}

TEST_CASE("the pooling of int32 sums equals its definition and writes only its room") {
  std::mt19937 rng(555);
  for (int i = 0; i < 400; ++i) guarded_pool_sums_case(rng);
}

TEST_CASE_TEMPLATE("fast int8 GEMM equals the reference bit for bit", TIn, std::uint8_t, std::int8_t) {
  std::mt19937 rng(99);
  for (int i = 0; i < 240; ++i) fc_case<TIn>(rng, i);
}

TEST_CASE("a layer told its input range checks it: a range outside the type, a run outside the range") {
  using doctest::Contains;
  Tensor b(DType::i8, Shape{4, 2});
  for (auto& v : b.span<std::int8_t>()) v = 127;
  const PerChannel<std::int8_t, float, Symmetry::symmetric> wq(1, std::vector<float>{0.01f, 0.02f});
  const QView<const std::int8_t, decltype(wq)> bv{b.view<std::int8_t>(), wq};
  const PerTensor<std::int8_t> xq(0.5f, 0), yq(1.0f, 0);
  GemmOptions o;
  o.input_range = IntRange{0, 200};
  CHECK_THROWS_WITH_AS((QuantizedGemm<std::int8_t, std::int8_t, std::int8_t>(xq, bv, {}, yq, o)),
                       Contains("input_range [0, 200] is not a range of int8"), qnn::error);
  o.input_range = IntRange{5, 4};
  CHECK_THROWS_AS((QuantizedGemm<std::int8_t, std::int8_t, std::int8_t>(xq, bv, {}, yq, o)), qnn::error);
  // [0, 127]: four products of 127·127 per output, pairs of 32258 — bytes without saturation.
  o.input_range = IntRange{0, 127};
  const QuantizedGemm<std::int8_t, std::int8_t, std::int8_t> fast(xq, bv, {}, yq, o);
  o.reference = true;
  const QuantizedGemm<std::int8_t, std::int8_t, std::int8_t> ref(xq, bv, {}, yq, o);
  CHECK(fast.byte_kernel() == target_has_byte_kernel());
  Tensor a(DType::i8, Shape{1, 4}), c1(DType::i8, Shape{1, 2}), c2(DType::i8, Shape{1, 2});
  for (auto& v : a.span<std::int8_t>()) v = 127;
  fast.run(a.view<std::int8_t>(), c1.view<std::int8_t>());
  ref.run(a.view<std::int8_t>(), c2.view<std::int8_t>());
  CHECK(count_diff<std::int8_t>(c1, c2) == 0);
  a.span<std::int8_t>()[2] = -1;
  if (fast.byte_kernel())
    CHECK_THROWS_WITH_AS(fast.run(a.view<std::int8_t>(), c1.view<std::int8_t>()),
                         Contains("an input value (-1) lies outside the input_range [0, 127]"), qnn::error);
  else
    CHECK_NOTHROW(fast.run(a.view<std::int8_t>(), c1.view<std::int8_t>()));

  // A padded conv, XINT8-style: uint8 with zero point 128, after a ReLU [128, 255].
  Tensor w(DType::i8, Shape{2, 1, 3, 3});
  // Pairs of 127 + 100: bytes only because the inputs span 127 values, not 255.
  for (std::size_t i = 0; i < 18; ++i) w.span<std::int8_t>()[i] = static_cast<std::int8_t>(i % 2 ? 127 : 100);
  const PerChannel<std::int8_t> cwq(0, std::vector<float>{0.001f, 0.002f}, std::vector<std::int32_t>{0, 0});
  const QView<const std::int8_t, PerChannel<std::int8_t>> wv{w.view<std::int8_t>(), cwq};
  const PerTensor<std::uint8_t> cxq(0.5f, 128), cyq(4.0f, 128);
  ConvOptions co;
  co.window.kernel = {3, 3};
  co.window.pads = {1, 1, 1, 1};
  co.input_range = IntRange{128, 255};
  const QuantizedConv2D<std::uint8_t, std::int8_t, std::uint8_t> conv(cxq, wv, {}, cyq, co);
  co.reference = true;
  const QuantizedConv2D<std::uint8_t, std::int8_t, std::uint8_t> conv_ref(cxq, wv, {}, cyq, co);
  CHECK(conv.byte_kernel() == target_has_byte_kernel());
  Tensor x(DType::u8, Shape{1, 1, 4, 4}), y1(DType::u8, Shape{1, 2, 4, 4}), y2(DType::u8, Shape{1, 2, 4, 4});
  for (std::size_t i = 0; i < 16; ++i) x.span<std::uint8_t>()[i] = static_cast<std::uint8_t>(i % 3 ? 255 : 128);
  conv.run(x.view<std::uint8_t>(), y1.view<std::uint8_t>());
  conv_ref.run(x.view<std::uint8_t>(), y2.view<std::uint8_t>());
  CHECK(count_diff<std::uint8_t>(y1, y2) == 0);
  x.span<std::uint8_t>()[5] = 127;
  if (conv.byte_kernel())
    CHECK_THROWS_WITH_AS(conv.run(x.view<std::uint8_t>(), y1.view<std::uint8_t>()),
                         Contains("an input value (127) lies outside the input_range [128, 255]"), qnn::error);
}

// The span rule at its edges (docs/numerics.md §7.1): with inputs spanning R values past the
// shift, a pair whose positive parts add up to P takes bytes iff R·P ≤ 32767, and one whose negative
// parts add up to −N iff R·N ≤ 32768. Per R: the largest P and N (by hand), each taken, and one more
// refused where int8 weights can express it. R = 151 has 151·217 = 32767 exactly, R = 128 has
// 128·256 = 32768. The range is given either as [lo, lo + R] with zx = lo, or narrower with zx above
// it, which must widen it to the same span.
TEST_CASE("the byte kernel's span rule at its edges") {
  struct Edge {
    int span, pos, neg;
  };
  const Edge edges[] = {{151, 217, 217}, {128, 254, 256}, {129, 254, 254}, {130, 252, 252}, {200, 163, 163},
                        {255, 128, 128}};
  const auto split = [](int sum) {  // two int8 weights adding up to sum
    const int a = std::clamp(sum, -128, 127);
    return std::array<std::int8_t, 2>{static_cast<std::int8_t>(a), static_cast<std::int8_t>(sum - a)};
  };
  for (const Edge& e : edges)
    for (const bool widen : {false, true})
      for (const int sum : {e.pos, e.pos + 1, -e.neg, -e.neg - 1}) {
        if (sum > 254 || sum < -256) continue;
        const int lo = -128, hi = lo + e.span;
        const std::int32_t zx = widen ? hi : lo;
        const std::array<std::int8_t, 2> w = split(sum);
        Tensor b(DType::i8, Shape{2, 1});
        b.span<std::int8_t>()[0] = w[0];
        b.span<std::int8_t>()[1] = w[1];
        const PerChannel<std::int8_t, float, Symmetry::symmetric> wq(1, std::vector<float>{1.0f});
        const QView<const std::int8_t, decltype(wq)> bv{b.view<std::int8_t>(), wq};
        const PerTensor<std::int8_t> xq(1.0f, zx), yq(300.0f, 0);
        GemmOptions o;
        o.input_range = IntRange{lo, widen ? hi - 10 : hi};
        const QuantizedGemm<std::int8_t, std::int8_t, std::int8_t> fast(xq, bv, {}, yq, o);
        o.reference = true;
        const QuantizedGemm<std::int8_t, std::int8_t, std::int8_t> ref(xq, bv, {}, yq, o);
        const bool within = sum > 0 ? e.span * sum <= 32767 : -e.span * sum <= 32768;
        INFO("span ", e.span, " pair ", int{w[0]}, " + ", int{w[1]}, " zx ", zx, " widened ", widen);
        CHECK(within == (sum == e.pos || sum == -e.neg));  // the table is the rule
        CHECK(fast.byte_kernel() == (within && target_has_byte_kernel()));
        // Every corner of the input range (the widened one included: zx is a value x may take).
        const int top = widen ? hi - 10 : hi;
        Tensor a = Tensor::from<std::int8_t>(
            Shape{4, 2}, std::initializer_list<std::int8_t>{static_cast<std::int8_t>(lo), static_cast<std::int8_t>(lo),
                                                            static_cast<std::int8_t>(lo), static_cast<std::int8_t>(top),
                                                            static_cast<std::int8_t>(top), static_cast<std::int8_t>(lo),
                                                            static_cast<std::int8_t>(top), static_cast<std::int8_t>(top)});
        Tensor c1(DType::i8, Shape{4, 1}), c2(DType::i8, Shape{4, 1});
        fast.run(a.view<std::int8_t>(), c1.view<std::int8_t>());
        ref.run(a.view<std::int8_t>(), c2.view<std::int8_t>());
        CHECK(count_diff<std::int8_t>(c1, c2) == 0);
      }
}

// Paired quads (docs/numerics.md §7.1, cpu::byte_quad_pairing), by hand: an int16 lane sums k =
// 4q + 2h, 4q + 2h + 1, 4q + 4 + 2h, 4q + 5 + 2h for an even quad q; with inputs spanning R its
// positive weights may add up to ⌊32767 / R⌋ and its negative ones to −⌊32768 / R⌋ (R = 127: 258 and
// −258; R = 255: 128 and −128). The excess is taken from the largest weights of that sign, the first
// of equals; a layer pairs when it needs at most one fix per 512 weights.
TEST_CASE("paired quads: the int16 bound, the fixes and when a layer pairs") {
  const auto pairing = [](std::int64_t channels, std::int64_t k, std::int32_t span,
                          const std::vector<std::pair<std::int64_t, std::int32_t>>& set, std::int64_t channel = 0) {
    std::vector<std::int32_t> w(static_cast<std::size_t>(channels * k), 0);
    for (const auto& [j, v] : set) w[static_cast<std::size_t>(channel * k + j)] = v;
    return cpu::byte_quad_pairing(channels, k, span, [&](std::int64_t c, std::int64_t j) {
      return w[static_cast<std::size_t>(c * k + j)];
    });
  };
  const auto fixes_are = [](const cpu::BytePairing& p, std::vector<std::array<std::int64_t, 3>> want) {
    std::vector<std::array<std::int64_t, 3>> got;
    for (const cpu::ByteFix& f : p.fixes) got.push_back({f.row, f.k, f.w});
    return got == want;
  };
  // R = 127: 127 + 127 + 5 at k = 0, 1, 4 is 259, one over; 127 + 127 + 4 is the edge (127·258 = 32766).
  cpu::BytePairing p = pairing(1, 512, 127, {{0, 127}, {1, 127}, {4, 5}});
  CHECK(p.paired);
  CHECK(fixes_are(p, {{0, 0, 1}}));
  p = pairing(1, 512, 127, {{0, 127}, {1, 127}, {4, 4}});
  CHECK((p.paired && p.fixes.empty()));
  // The other half of the lane (k = 2, 3, 6, 7), negative: −128 − 128 − 3 = −259; −258 is the edge.
  p = pairing(1, 512, 127, {{2, -128}, {3, -128}, {6, -3}});
  CHECK(fixes_are(p, {{0, 2, -1}}));
  p = pairing(1, 512, 127, {{2, -128}, {3, -128}, {6, -2}});
  CHECK((p.paired && p.fixes.empty()));
  // Lanes do not mix: 127 + 127 at k = 0, 1 and 127 + 127 at k = 2, 3 are two lanes of 254.
  p = pairing(1, 512, 127, {{0, 127}, {1, 127}, {2, 127}, {3, 127}});
  CHECK((p.paired && p.fixes.empty()));
  // R = 255: four 60s are 240, 112 over: 60 from k = 0, then 52 from k = 1; the second channel's row.
  p = pairing(2, 512, 255, {{8, 60}, {9, 60}, {12, 60}, {13, 60}}, 1);
  CHECK(p.paired);
  CHECK(fixes_are(p, {{1, 8, 60}, {1, 9, 52}}));
  // Two fixes need 1,024 weights: with 1,023 the layer does not pair, and keeps no fixes.
  p = pairing(1, 1023, 255, {{8, 60}, {9, 60}, {12, 60}, {13, 60}});
  CHECK((!p.paired && p.fixes.empty()));
  // A trailing odd quad stays alone (its pairs are byte_pair_fixes' business), and one quad
  // cannot pair at all.
  p = pairing(1, 12, 127, {{8, 127}, {9, 127}, {10, 127}, {11, 127}});
  CHECK((p.paired && p.fixes.empty()));
  CHECK(!pairing(1, 4, 127, {}).paired);
  // R = 129: ⌊32767 / 129⌋ = 254 (129·255 = 32895), −⌊32768 / 129⌋ = −254; R = 0 takes anything.
  p = pairing(1, 1024, 129, {{0, 127}, {4, 127}, {1, 1}, {2, -127}, {6, -127}, {3, -1}});
  CHECK(fixes_are(p, {{0, 0, 1}, {0, 2, -1}}));
  p = pairing(1, 512, 0, {{0, 127}, {1, 127}, {4, 127}, {5, 127}});
  CHECK((p.paired && p.fixes.empty()));
}

namespace {

// Weights as training leaves them (most far below the channel's largest, here within ±40) in the
// byte packing's k order, with `violators` lanes of chosen channels set past the paired-quad bound
// for inputs spanning 127 (127 + 100 + 40 = 267 or −128 − 100 − 40 = −268: one fix each).
std::vector<std::int8_t> small_weights(std::mt19937& rng, std::int64_t channels, std::int64_t k) {
  std::uniform_int_distribution<int> small(-40, 40);
  std::vector<std::int8_t> w(static_cast<std::size_t>(channels * k));
  for (auto& v : w) v = static_cast<std::int8_t>(small(rng));
  return w;
}

std::vector<std::int8_t> trained_weights(std::mt19937& rng, std::int64_t channels, std::int64_t k,
                                         const std::vector<std::int64_t>& violators) {
  std::vector<std::int8_t> w = small_weights(rng, channels, k);
  const std::int64_t pairs_of_quads = k / 8;
  for (std::size_t i = 0; i < violators.size(); ++i) {
    const std::int64_t c = violators[i];
    const std::int64_t q = 2 * std::uniform_int_distribution<std::int64_t>(0, pairs_of_quads - 1)(rng);
    const std::int64_t h = std::uniform_int_distribution<std::int64_t>(0, 1)(rng);
    const std::int64_t taps[4] = {4 * q + 2 * h, 4 * q + 2 * h + 1, 4 * q + 4 + 2 * h, 4 * q + 5 + 2 * h};
    const int sign = i % 2 ? -1 : 1;
    const int big[4] = {sign > 0 ? 127 : -128, 100 * sign, 40 * sign, 0};
    for (int t = 0; t < 4; ++t) w[static_cast<std::size_t>(c * k + taps[t])] = static_cast<std::int8_t>(big[t]);
  }
  return w;
}

}  // namespace

namespace {

// What a layer with fixes must show: the byte kernel (where the target has one), paired quads or
// not, and a number of fixes in [fixes_lo, fixes_hi].
struct FixedLayer {
  bool paired;
  std::size_t fixes_lo, fixes_hi;
};

template <class Layer>
void check_fixed_plan(const Layer& layer, const FixedLayer& want) {
  CHECK(layer.byte_kernel() == target_has_byte_kernel());
  if (layer.byte_kernel()) {
    CHECK(layer.byte_pairing().paired == want.paired);
    CHECK(layer.byte_pairing().fixes.size() >= want.fixes_lo);
    CHECK(layer.byte_pairing().fixes.size() <= want.fixes_hi);
  }
}

// A conv of 32 → 32 channels in 2 groups, 3×3 (k = 144 per group: the fixes of the second group
// number their rows from its first channel), weights `drawn` in the byte packing's k order
// (channel block, tap, channel in block), ReLU, padded on odd iterations, 1–3 images on 1 or 2
// threads, with and without a fused max pool, against the reference at tolerance 0. `range`: the
// promised input range (inputs are drawn in it), or none (any value of TIn).
template <class TIn>
void check_conv_with_fixes(std::mt19937& rng, int it, const std::vector<std::int8_t>& drawn, std::int32_t zx,
                           std::optional<IntRange> range, const FixedLayer& want) {
  const std::int64_t m = 32, cpg = 16, g = 2, kk = cpg * 9;
  Tensor wt(DType::i8, Shape{m, cpg, 3, 3});
  for (std::int64_t oc = 0; oc < m; ++oc)
    for (std::int64_t j = 0; j < kk; ++j) {
      const std::int64_t block = j / 4 / 9, tap = j / 4 % 9;
      wt.span<std::int8_t>()[static_cast<std::size_t>(oc * kk + (block * 4 + j % 4) * 9 + tap)] =
          drawn[static_cast<std::size_t>(oc * kk + j)];
    }
  std::vector<float> ws;
  std::vector<std::int32_t> wz(static_cast<std::size_t>(m), 0), bias;
  for (std::int64_t i = 0; i < m; ++i) {
    ws.push_back(pick_scale(rng, RequantPolicy::onnx_float));
    bias.push_back(std::uniform_int_distribution<int>(-3000, 3000)(rng));
  }
  const PerTensor<TIn> xq(0.02f, zx);
  const PerTensor<std::uint8_t> yq(pick_scale(rng, RequantPolicy::onnx_float) * 40.0f, 0);
  const PerChannel<std::int8_t> wq(0, ws, wz);
  ConvOptions o;
  o.window.kernel = {3, 3};
  o.window.pads = {it % 2, it % 2, it % 2, it % 2};
  o.groups = g;
  o.input_range = range;
  o.activation = ActivationClamp::relu();
  const QView<const std::int8_t, PerChannel<std::int8_t>> wv{wt.view<std::int8_t>(), wq};
  const QuantizedConv2D<TIn, std::int8_t, std::uint8_t> fast(xq, wv, bias, yq, o);
  o.reference = true;
  const QuantizedConv2D<TIn, std::int8_t, std::uint8_t> ref(xq, wv, bias, yq, o);
  INFO("target ", std::string(simd::active_target()), " iteration ", it);
  check_fixed_plan(fast, want);
  const Tensor x = draw_input<TIn>(rng, Shape{1 + it % 3, m, 9 + it, 12 - it}, range.value_or(storage_range<TIn>()));
  const Shape ys = fast.geometry(x.shape()).output_shape();
  Tensor y1(DType::u8, ys), y2(DType::u8, ys);
  TestExec ex(1 + it % 2);
  fast.run(x.view<TIn>(), y1.view<std::uint8_t>(), ex.exec());
  ref.run(x.view<TIn>(), y2.view<std::uint8_t>());
  CHECK(count_diff<std::uint8_t>(y1, y2) == 0);
  check_fused_pool<std::uint8_t>(rng, fast, x.view<TIn>(), y2, ex.exec());
}

// An FC of n outputs over k inputs, weights fw (n × k), B transposed on every third iteration,
// 1 + it rows, against the reference at tolerance 0; `range` as for the conv.
template <class TIn>
void check_fc_with_fixes(std::mt19937& rng, int it, const std::vector<std::int8_t>& fw, std::int64_t n, std::int64_t k,
                         std::int32_t zx, std::optional<IntRange> range, const FixedLayer& want) {
  const bool tb = it % 3 == 0;
  Tensor b(DType::i8, tb ? Shape{n, k} : Shape{k, n});
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < k; ++j)
      b.span<std::int8_t>()[static_cast<std::size_t>(tb ? i * k + j : j * n + i)] = fw[static_cast<std::size_t>(i * k + j)];
  std::vector<float> fs(static_cast<std::size_t>(n), 0.004f);
  std::vector<std::int32_t> fb;
  for (std::int64_t i = 0; i < n; ++i) fb.push_back(std::uniform_int_distribution<int>(-5000, 5000)(rng));
  const PerTensor<TIn> xq(0.02f, zx);
  const PerChannel<std::int8_t, float, Symmetry::symmetric> fq(tb ? 0 : 1, fs);
  const QView<const std::int8_t, decltype(fq)> bv{b.view<std::int8_t>(), fq};
  const PerTensor<std::int8_t> cq(0.5f, 3);
  GemmOptions go;
  go.trans_b = tb;
  go.input_range = range;
  const QuantizedGemm<TIn, std::int8_t, std::int8_t> fc(xq, bv, fb, cq, go);
  go.reference = true;
  const QuantizedGemm<TIn, std::int8_t, std::int8_t> fc_ref(xq, bv, fb, cq, go);
  INFO("target ", std::string(simd::active_target()), " iteration ", it, " k ", k);
  check_fixed_plan(fc, want);
  const std::int64_t rows = 1 + it;
  const Tensor a = draw_input<TIn>(rng, Shape{rows, k}, range.value_or(storage_range<TIn>()));
  Tensor c1(DType::i8, Shape{rows, n}), c2(DType::i8, Shape{rows, n});
  TestExec ex(1 + it % 2);
  fc.run(a.view<TIn>(), c1.view<std::int8_t>(), ex.exec());
  fc_ref.run(a.view<TIn>(), c2.view<std::int8_t>());
  CHECK(count_diff<std::int8_t>(c1, c2) == 0);
}

}  // namespace

// Layers that pair with fixes equal the reference: the grouped conv (36 quads per group, 4,608
// weights: up to 9 fixes, 4 here) and FCs with an even and an odd number of quads (k = 600 or
// 604, 40 outputs, 3 fixes), on int8 inputs in [0, 127] (A8W8 after a ReLU) and uint8 in
// [128, 255] (XINT8), half of them only the range's ends: the violating lanes then reach
// 127·(127 + 100 + 40 − 9) = 32,766 after their fix.
TEST_CASE_TEMPLATE("paired byte layers with fixes equal the reference bit for bit", TIn, std::int8_t, std::uint8_t) {
  std::mt19937 rng(std::is_signed_v<TIn> ? 5 : 6);
  const std::int32_t zx = std::is_signed_v<TIn> ? 0 : 128;
  const IntRange range{zx, zx + 127};
  for (int it = 0; it < 6; ++it) {
    check_conv_with_fixes<TIn>(rng, it, trained_weights(rng, 32, 144, {1, 13, 17, 30}), zx, range, {true, 4, 4});
    const std::int64_t k = it % 2 ? 604 : 600;
    check_fc_with_fixes<TIn>(rng, it, trained_weights(rng, 40, k, {0, 21, 39}), 40, k, zx, range, {true, 3, 3});
  }
}

// Pair fixes (docs/numerics.md §7.1, cpu::byte_pair_fixes and cpu::byte_plan), by hand: against
// inputs spanning R = 255 a pair's positive weights may add up to ⌊32767 / 255⌋ = 128 and its
// negative ones to −⌊32768 / 255⌋ = −128; the excess comes off the larger weight of that sign (the
// first of equals). A layer whose pairs need fixes still takes bytes — its quads unpaired — when it
// has one fix per 64 weights at most (a conv) or per 512 (an FC); otherwise it keeps int16 pairs.
TEST_CASE("pair fixes: the byte bound, the fixes and when a layer takes bytes") {
  const auto weights = [](std::int64_t channels, std::int64_t k,
                          const std::vector<std::tuple<std::int64_t, std::int64_t, std::int32_t>>& set) {
    std::vector<std::int32_t> w(static_cast<std::size_t>(channels * k), 0);
    for (const auto& [c, j, v] : set) w[static_cast<std::size_t>(c * k + j)] = v;
    return w;
  };
  const auto value_of = [](const std::vector<std::int32_t>& w, std::int64_t k) {
    return [&w, k](std::int64_t c, std::int64_t j) { return w[static_cast<std::size_t>(c * k + j)]; };
  };
  const auto fixes_of = [&](std::int64_t channels, std::int64_t k, std::int32_t span,
                            const std::vector<std::tuple<std::int64_t, std::int64_t, std::int32_t>>& set) {
    const auto w = weights(channels, k, set);
    std::vector<std::array<std::int64_t, 3>> got;
    for (const cpu::ByteFix& f : cpu::byte_pair_fixes(channels, k, span, value_of(w, k))) got.push_back({f.row, f.k, f.w});
    return got;
  };
  using Fixes = std::vector<std::array<std::int64_t, 3>>;
  // 127 + 127 is 126 over: off the first; 60 + 100 (channel 1, k = 6, 7) is 32 over: off the 100.
  CHECK(fixes_of(2, 8, 255, {{0, 0, 127}, {0, 1, 127}, {1, 6, 60}, {1, 7, 100}}) == Fixes{{0, 0, 126}, {1, 7, 32}});
  // −128 − 1 is one under; 64 + 64 and −64 − 64 are the edges; a trailing lone weight is alone.
  CHECK(fixes_of(1, 8, 255, {{0, 2, -1}, {0, 3, -128}}) == Fixes{{0, 3, -1}});
  CHECK(fixes_of(1, 8, 255, {{0, 0, 64}, {0, 1, 64}, {0, 4, -64}, {0, 5, -64}}).empty());
  CHECK(fixes_of(1, 3, 255, {{0, 2, 127}}).empty());
  // R = 127: any two int8 weights (127·(127 + 127) = 32258).
  CHECK(fixes_of(1, 2, 127, {{0, 0, 127}, {0, 1, 127}}).empty());

  // The decision, on inputs spanning [0, 255].
  const IntRange any{0, 255};
  const auto plan = [&](std::int64_t channels, std::int64_t k, std::int64_t per_fix,
                        const std::vector<std::tuple<std::int64_t, std::int64_t, std::int32_t>>& set) {
    const auto w = weights(channels, k, set);
    return cpu::byte_plan<std::uint8_t>(any, 0, channels, k, per_fix, value_of(w, k));
  };
  const std::vector<std::tuple<std::int64_t, std::int64_t, std::int32_t>> one{{0, 0, 127}, {0, 1, 2}};
  const std::vector<std::tuple<std::int64_t, std::int64_t, std::int32_t>> two{
      {0, 0, 127}, {0, 1, 2}, {0, 8, -128}, {0, 9, -1}};
  const bool bytes = target_has_byte_kernel();
  // A conv of 64 weights takes one fix, not two; an FC needs 512 weights for one.
  auto p = plan(2, 32, cpu::kConvWeightsPerPairFix, one);
  CHECK(p.has_value() == bytes);
  if (p) {
    CHECK(p->shift == 0);
    CHECK(!p->pairing.paired);
    CHECK(p->pairing.fixes.size() == 1);
  }
  CHECK(!plan(2, 32, cpu::kConvWeightsPerPairFix, two).has_value());
  CHECK(!plan(1, 511, cpu::kFcWeightsPerPairFix, one).has_value());
  CHECK(plan(1, 512, cpu::kFcWeightsPerPairFix, one).has_value() == bytes);
  // Exact pairs: no pair fixes, and the quads pair (two quads or more; 60·4 = 240 needs quad fixes
  // at R = 255, but 30·4 does not).
  p = plan(1, 8, cpu::kFcWeightsPerPairFix, {{0, 0, 30}, {0, 1, 30}, {0, 4, 30}, {0, 5, 30}});
  CHECK(p.has_value() == bytes);
  if (p) CHECK((p->pairing.paired && p->pairing.fixes.empty()));
  // Weights w' = w − zw past int8 never take bytes.
  CHECK(!plan(1, 512, cpu::kFcWeightsPerPairFix, {{0, 3, 128}}).has_value());
}

namespace {

// channels × k weights within ±40 (pairs far from the byte bound at R = 255) in the packed k order,
// with pairs of the chosen channels set to 127 + 100 or −128 − 100: each needs one fix at R = 255
// (99 and −100: the pair then sums to exactly 128 or −128).
std::vector<std::int8_t> weights_with_pair_fixes(std::mt19937& rng, std::int64_t channels, std::int64_t k,
                                                 const std::vector<std::int64_t>& violators) {
  std::vector<std::int8_t> w = small_weights(rng, channels, k);
  for (std::size_t i = 0; i < violators.size(); ++i) {
    const std::int64_t j = 2 * std::uniform_int_distribution<std::int64_t>(0, k / 2 - 1)(rng);
    const int sign = i % 2 ? -1 : 1;
    w[static_cast<std::size_t>(violators[i] * k + j)] = static_cast<std::int8_t>(sign > 0 ? 127 : -128);
    w[static_cast<std::size_t>(violators[i] * k + j + 1)] = static_cast<std::int8_t>(100 * sign);
  }
  return w;
}

}  // namespace

// Layers on bytes with pair fixes equal the reference: the grouped conv (4,608 weights: up to 72
// fixes; 5 or 6 here, channel 16 having two violating pairs unless both fell on the same k) and
// the FCs (24,000 weights or more: up to 46 fixes, 3 here), on inputs of any 8-bit value (int8
// with a zero point of 3, U8S8's uint8 with 131), half of them only the type's ends: a fixed pair
// then reaches 255·128 = 32,640.
TEST_CASE_TEMPLATE("byte layers with pair fixes equal the reference bit for bit", TIn, std::int8_t, std::uint8_t) {
  std::mt19937 rng(std::is_signed_v<TIn> ? 15 : 16);
  const std::int32_t zx = std::is_signed_v<TIn> ? 3 : 131;
  for (int it = 0; it < 6; ++it) {
    check_conv_with_fixes<TIn>(rng, it, weights_with_pair_fixes(rng, 32, 144, {0, 5, 16, 16, 22, 31}), zx,
                               std::nullopt, {false, 5, 6});
    const std::int64_t k = it % 2 ? 604 : 600;
    check_fc_with_fixes<TIn>(rng, it, weights_with_pair_fixes(rng, 40, k, {0, 21, 39}), 40, k, zx, std::nullopt,
                             {false, 3, 3});
  }
}

TEST_CASE("fast float and bf16 conv/GEMM stay within the documented bound") {
  std::mt19937 rng(7);
  constexpr double u = 0x1p-24;
  for (int it = 0; it < 40; ++it) {
    const std::int64_t c = 1 + it % 5, m = 1 + (it * 7) % 9, kh = 1 + it % 3, h = 3 + it % 7, w = 4 + it % 9;
    const Tensor x = random_float(rng, Shape{2, c, h, w});
    const Tensor wt = random_float(rng, Shape{m, c, kh, kh});
    std::vector<float> bias(static_cast<std::size_t>(m), 0.25f);
    ConvOptions o;
    o.window.pads = {1, 0, 0, 1};
    const FloatConv2D<float> fast(wt.view<float>(), bias, o);
    o.reference = true;
    const FloatConv2D<float> ref(wt.view<float>(), bias, o);
    const Shape ys = fast.geometry(x.shape()).output_shape();
    Tensor y1(DType::f32, ys), y2(DType::f32, ys);
    fast.run(x.view<float>(), y1.view<float>());
    ref.run(x.view<float>(), y2.view<float>());
    // |fast − ref| ≤ 2·γ_K·Σ|x·w| (each is within γ_K of the exact sum); Σ|x·w| bounded by
    // K·max|x|·max|w| + |b| for a simple, safe per-tensor check.
    const double k = static_cast<double>(c * kh * kh) + 1;
    const double gamma = k * u / (1 - k * u);
    double maxx = 0, maxw = 0;
    for (float v : x.span<float>()) maxx = std::max(maxx, double{std::fabs(v)});
    for (float v : wt.span<float>()) maxw = std::max(maxw, double{std::fabs(v)});
    const double bound = 2 * gamma * (k * maxx * maxw + 0.25);
    for (std::size_t i = 0; i < y1.span<float>().size(); ++i)
      CHECK(std::fabs(double{y1.span<float>()[i]} - double{y2.span<float>()[i]}) <= bound);
  }
  for (int it = 0; it < 40; ++it) {
    const std::int64_t mm = 1 + it % 4, k = 1 + (it * 13) % 90, n = 1 + (it * 5) % 33;
    const Tensor a = random_float(rng, Shape{mm, k});
    const Tensor b = random_float(rng, Shape{k, n});
    GemmOptions o;
    const FloatGemm<bf16> fast(b.view<float>(), {}, o);
    o.reference = true;
    const FloatGemm<bf16> ref(b.view<float>(), {}, o);
    Tensor abf(DType::bf16, a.shape());
    for (std::size_t i = 0; i < abf.span<bf16>().size(); ++i) abf.span<bf16>()[i] = bf16(a.span<float>()[i]);
    Tensor c1(DType::f32, Shape{mm, n}), c2(DType::f32, Shape{mm, n});
    fast.run(abf.view<bf16>(), c1.view<float>());
    ref.run(abf.view<bf16>(), c2.view<float>());
    const double gamma = double(k) * u / (1 - double(k) * u);
    for (std::int64_t i = 0; i < mm; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double mag = 0;
        for (std::int64_t q = 0; q < k; ++q)
          mag += std::fabs(double{round_to_bf16(a.view<float>()(i, q))} * double{round_to_bf16(b.view<float>()(q, j))});
        CHECK(std::fabs(double{c1.view<float>()(i, j)} - double{c2.view<float>()(i, j)}) <= 2 * gamma * mag + 1e-30);
      }
  }
}

TEST_CASE("fast float and bf16 conv with a fused max pool equal the conv then the pool") {
  std::mt19937 rng(31);
  for (int it = 0; it < 60; ++it) {
    const std::int64_t groups = 1 + it % 2, c = groups * (1 + it % 3), m = groups * (1 + (it * 5) % 7);
    const std::int64_t kh = 1 + it % 3, h = kh + 1 + (it * 7) % 11, w = kh + 1 + (it * 3) % 13;
    const Tensor x = random_float(rng, Shape{1 + it % 3, c, h, w});
    const Tensor wt = random_float(rng, Shape{m, c / groups, kh, kh});
    std::vector<float> bias(static_cast<std::size_t>(m), -0.125f);
    ConvOptions o;
    o.groups = groups;
    o.window.pads = {it % 2, 1, 0, it % 3};
    if (it % 2) o.activation = ActivationClamp::relu();
    TestExec ex(1 + it % 2);
    const auto run = [&](const auto& conv, const auto& xv) {
      const Shape ys = conv.geometry(x.shape()).output_shape();
      Tensor full(DType::f32, ys);
      conv.run(xv, full.view<float>(), ex.exec());
      INFO("x ", x.shape(), " w ", wt.shape(), " groups ", groups, " threads ", ex.pool.threads());
      check_fused_pool<float>(rng, conv, xv, full, ex.exec());
    };
    run(FloatConv2D<float>(wt.view<float>(), bias, o), x.view<float>());
    Tensor xb(DType::bf16, x.shape());
    for (std::size_t i = 0; i < xb.span<bf16>().size(); ++i) xb.span<bf16>()[i] = bf16(x.span<float>()[i]);
    run(FloatConv2D<bf16>(wt.view<float>(), bias, o), std::as_const(xb).view<bf16>());
  }
}

TEST_CASE_TEMPLATE("fast max pool equals the reference bit for bit", T, std::uint8_t, std::int8_t, std::int16_t, float) {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> pick(0, 1000);
  // The Fashion-MNIST CNN's two pools (2x2, stride 2), a 3x3/2 padded pool and a global one.
  const std::pair<Shape, Window2D> fixed[] = {
      {Shape{2, 32, 28, 28}, Window2D{{2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}}},
      {Shape{1, 64, 12, 12}, Window2D{{2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}}},
      {Shape{1, 5, 13, 11}, Window2D{{3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}}},
      {Shape{2, 3, 7, 9}, Window2D{{7, 9}, {1, 1}, {1, 1}, {0, 0, 0, 0}}}};
  int it = 0;
  for (const auto& [shape, win] : fixed) max_pool_case<T>(rng, it++, make_pool_geometry(shape, win, false));
  for (int i = 0; i < 300; ++i) {
    Window2D win;
    win.kernel = {1 + pick(rng) % 4, 1 + pick(rng) % 4};
    win.strides = {1 + pick(rng) % 3, 1 + pick(rng) % 3};
    win.dilations = {1 + pick(rng) % 2, 1 + pick(rng) % 2};
    win.pads = {pick(rng) % win.kernel[0], pick(rng) % win.kernel[1], pick(rng) % win.kernel[0],
                pick(rng) % win.kernel[1]};
    const std::int64_t h = (win.kernel[0] - 1) * win.dilations[0] + 1 + pick(rng) % 12;
    const std::int64_t w = (win.kernel[1] - 1) * win.dilations[1] + 1 + pick(rng) % 40;  // odd widths, tails
    const PoolGeometry g = make_pool_geometry(Shape{1 + pick(rng) % 2, 1 + pick(rng) % 4, h, w}, win, pick(rng) % 3 == 0);
    if (!cpu::every_window_hits_input(g)) continue;  // the reference rejects those windows
    max_pool_case<T>(rng, it++, g);
  }
  // Windows two columns wide at stride 2 (the flat column pass when they tile the rows: even
  // widths, no left padding, no dilation; odd widths and ceil mode fall back): any window height,
  // stride, dilation and padding across rows, up to 70 planes so that blocks of planes end inside
  // a vector and inside a plane; a third are 2×2/2 windows over even heights.
  for (int i = 0; i < 200; ++i) {
    Window2D win;
    win.kernel = {1 + pick(rng) % 3, 2};
    win.strides = {1 + pick(rng) % 3, 2};
    win.dilations = {1 + pick(rng) % 2, 1};
    win.pads = {pick(rng) % win.kernel[0], 0, pick(rng) % win.kernel[0], pick(rng) % 4 == 0 ? 1 : 0};
    std::int64_t h = (win.kernel[0] - 1) * win.dilations[0] + 1 + pick(rng) % 12;
    if (i % 3 == 0) {  // 2×2 windows tiling whole planes (their own row loop), even heights
      win = Window2D{{2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}};
      h = 2 + 2 * (pick(rng) % 8);
    }
    const std::int64_t w = 2 + pick(rng) % 40;
    const Shape shape{1 + pick(rng) % 2, 1 + pick(rng) % 70, h, w};
    const PoolGeometry g = make_pool_geometry(shape, win, pick(rng) % 4 == 0);
    if (!cpu::every_window_hits_input(g)) continue;
    max_pool_case<T>(rng, it++, g);
    guarded_pool_planes_case<T>(rng, g);
  }
  // Planes of exactly the flat pass's block (128·32 = 4096 reduced elements: one plane per block)
  // and just past it (the general path), 2×2/2.
  for (const Shape& shape : {Shape{1, 3, 128, 64}, Shape{1, 2, 130, 66}}) {
    const PoolGeometry g = make_pool_geometry(shape, Window2D{{2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}}, false);
    max_pool_case<T>(rng, it++, g);
    guarded_pool_planes_case<T>(rng, g);
  }
}

TEST_CASE_TEMPLATE("fast QuantizeLinear equals the reference bit for bit", T, std::uint8_t, std::int8_t,
                   std::uint16_t, std::int16_t) {
  const std::int32_t qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> specials = {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                                       inf, -inf, 0.0f, -0.0f, std::numeric_limits<float>::max(),
                                       -std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                                       -std::numeric_limits<float>::min(), 1e30f, -1e30f, 3e9f, -3e9f};
  const std::int32_t zps[] = {qmin, qmax, 0, (qmin + qmax) / 2, qmin + 3};
  SUBCASE("ties at ±0.5, ±1.5, ... of a power-of-two scale round to even") {
    for (const float scale : {0.25f, 1.0f, 0x1p-7f}) {
      std::vector<float> ties;
      for (int k = -300; k <= 300; ++k) ties.push_back((static_cast<float>(k) + 0.5f) * scale);
      for (const std::int32_t zp : zps) quantize_case<T>(ties, Shape{static_cast<std::int64_t>(ties.size())}, scale, zp);
    }
  }
  SUBCASE("saturation, NaN, infinities, signed zeros and denormals") {
    for (const std::int32_t zp : zps)
      for (const float scale : {0.003921569f, 1.0f, 1e-30f, 1e30f})
        quantize_case<T>(specials, Shape{static_cast<std::int64_t>(specials.size()) * 3}, scale, zp);
  }
  SUBCASE("random values, scales and zero points; every length up to 70 (vector tails)") {
    std::mt19937 rng(77);
    std::uniform_int_distribution<std::int32_t> zp_dist(qmin, qmax);
    for (int len = 0; len <= 70; ++len) {
      const float scale = std::exp(std::uniform_real_distribution<float>(-9.0f, 3.0f)(rng));
      std::vector<float> v(static_cast<std::size_t>(std::max(len, 1)));
      std::uniform_real_distribution<float> span(-1.2f * static_cast<float>(qmax - qmin), 1.2f * static_cast<float>(qmax - qmin));
      for (float& f : v) f = span(rng) * scale;
      if (len > 3) v[static_cast<std::size_t>(len / 2)] = (std::floor(v[0] / scale) + 0.5f) * scale;  // a near-tie
      quantize_case<T>(v, Shape{len}, scale, zp_dist(rng));
    }
  }
  SUBCASE("per-channel, along every axis") {
    std::mt19937 rng(5);
    const Shape shape{3, 4, 5};
    Tensor x(DType::f32, shape);
    std::normal_distribution<float> d(0.0f, 200.0f);
    for (float& f : x.span<float>()) f = d(rng);
    x.span<float>()[7] = std::numeric_limits<float>::quiet_NaN();
    for (int axis = 0; axis < 3; ++axis) {
      std::vector<float> scales;
      std::vector<std::int32_t> zp;
      for (std::int64_t c = 0; c < shape[axis]; ++c) {
        scales.push_back(0.5f + 0.25f * static_cast<float>(c));
        zp.push_back(c % 2 ? qmin : qmax);
      }
      const PerChannel<T> q(axis, scales, zp);
      Tensor y1(dtype_of_v<T>, shape), y2(dtype_of_v<T>, shape);
      cpu::quantize_linear(x.view<const float>(), y1.view<T>(), q);
      ref::quantize_linear(x.view<const float>(), y2.view<T>(), q);
      INFO("target ", std::string(simd::active_target()), " axis ", axis);
      CHECK(count_bit_diff<T>(y1, y2) == 0);
    }
  }
}

TEST_CASE("batch-1 convolutions split between threads equal the reference and the one-thread run") {
  std::mt19937 rng(31);
  struct Case {
    std::int64_t c, m, h, w, pad;
  };
  // The model's conv2, and an odd one whose pixel count is not a multiple of any panel width.
  for (const Case& k : {Case{32, 64, 14, 14, 0}, Case{16, 40, 23, 29, 1}}) {
    ConvOptions o;
    o.window.pads = {k.pad, k.pad, k.pad, k.pad};
    const Tensor x = random_tensor<std::uint8_t>(rng, Shape{1, k.c, k.h, k.w}, 0, 255);
    const Tensor wt = random_tensor<std::int8_t>(rng, Shape{k.m, k.c, 3, 3}, -127, 127);
    std::vector<std::int32_t> bias;
    for (std::int64_t i = 0; i < k.m; ++i) bias.push_back(std::uniform_int_distribution<int>(-3000, 3000)(rng));
    const PerChannel<std::int8_t> wq(0, std::vector<float>(static_cast<std::size_t>(k.m), 0.01f));
    const QView<const std::int8_t, PerChannel<std::int8_t>> wv{wt.view<std::int8_t>(), wq};
    const PerTensor<std::uint8_t> xq(0.02f, 3), yq(0.05f, 128);
    const QuantizedConv2D<std::uint8_t, std::int8_t, std::uint8_t> fast(xq, wv, bias, yq, o);
    const ConvGeometry g = fast.geometry(x.shape());
    TestExec two(2);
    INFO("target ", std::string(simd::active_target()), " x ", x.shape(), " w ", wt.shape());
    // Guards the test's purpose: these layers are large enough to be split.
    REQUIRE(cpu::conv_chunks(g, cpu::conv_lane_layout(g, 2), two.exec()) == 2);
    o.reference = true;
    const QuantizedConv2D<std::uint8_t, std::int8_t, std::uint8_t> ref(xq, wv, bias, yq, o);
    Tensor y1(DType::u8, g.output_shape()), y2(DType::u8, g.output_shape());
    fast.run(x.view<std::uint8_t>(), y1.view<std::uint8_t>(), two.exec());
    ref.run(x.view<std::uint8_t>(), y2.view<std::uint8_t>());
    CHECK(count_diff<std::uint8_t>(y1, y2) == 0);

    // Float: a pixel's sum is computed by the same instructions whichever thread computes it.
    o.reference = false;
    const Tensor xf = random_float(rng, x.shape());
    const Tensor wf = random_float(rng, wt.shape());
    const FloatConv2D<float> conv(wf.view<float>(), std::vector<float>(static_cast<std::size_t>(k.m), 0.5f), o);
    Tensor f1(DType::f32, g.output_shape()), f2(DType::f32, g.output_shape());
    TestExec one(1);
    conv.run(xf.view<float>(), f1.view<float>(), two.exec());
    conv.run(xf.view<float>(), f2.view<float>(), one.exec());
    CHECK(count_bit_diff<float>(f1, f2) == 0);
  }
}
