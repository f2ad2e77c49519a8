// The quantizer's accuracy tools (docs/quantization.md: "Cross-layer equalization", "Bias
// correction", "Finetuning"; qnn/quantize/{cle,bias_correction,finetune}.hpp) on small synthetic
// models whose channel ranges differ by orders of magnitude: CLE keeps the float function and
// equalizes ranges to sqrt(r1·r2); bias correction zeroes each layer's mean output error on the
// calibration data without touching weights; finetuning never worsens a layer's objective (checked
// independently on a one-layer model), stays in AdaRound's floor/ceil space within [−127, 127], keeps
// every scale, and is deterministic (also across thread counts).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "qnn/graph/graph.hpp"
#include "qnn/quantize/bias_correction.hpp"
#include "qnn/quantize/cle.hpp"
#include "qnn/quantize/finetune.hpp"
#include "qnn/quantize/quantize.hpp"
#include "qnn/runtime/session.hpp"

using namespace qnn;
using namespace qnn::quant;

namespace {

// A float model built node by node; the input has a dynamic batch axis.
struct Model {
  Graph g;
  std::mt19937 rng{7};

  explicit Model(std::vector<std::int64_t> input_dims) {
    g.opsets[""] = 13;
    Value& v = g.ensure_value("x");
    v.dtype = DType::f32;
    input_dims.insert(input_dims.begin(), kDynamicDim);
    v.dims = input_dims;
    g.inputs = {"x"};
  }
  // Random weights whose output channel c is scaled by spread^(c-th random exponent in [−1, 1]).
  Tensor weights(const Shape& s, int axis, double spread) {
    Tensor t(DType::f32, s);
    std::normal_distribution<double> n(0.0, 0.3);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    const std::int64_t channels = s[axis];
    std::vector<double> f;
    for (std::int64_t c = 0; c < channels; ++c) f.push_back(std::pow(spread, u(rng)));
    std::int64_t inner = 1;
    for (int a = axis + 1; a < s.rank(); ++a) inner *= s[a];
    auto v = t.span<float>();
    for (std::size_t i = 0; i < v.size(); ++i)
      v[i] = static_cast<float>(n(rng) * f[static_cast<std::size_t>((static_cast<std::int64_t>(i) / inner) % channels)]);
    return t;
  }
  Tensor vector(std::int64_t n, double scale) {
    Tensor t(DType::f32, Shape{n});
    std::normal_distribution<double> d(0.0, scale);
    for (float& x : t.span<float>()) x = static_cast<float>(d(rng));
    return t;
  }
  std::string constant(const std::string& name, Tensor t) { return g.add_constant(name, std::move(t)); }
  std::string node(const std::string& op, const std::string& name, std::vector<std::string> inputs, Attributes attrs = {}) {
    Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = {g.unique_name(name + "_out")};
    n.attrs = std::move(attrs);
    g.nodes.push_back(n);
    return n.outputs[0];
  }
  void output(const std::string& v) { g.outputs.push_back(v); }
};

Attributes attrs(std::initializer_list<std::pair<const char*, AttributeValue>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

// Conv(3→8, 3×3, pad 1) → Relu → MaxPool 2×2 → Conv(8→6, 3×3) → Relu → Flatten → Gemm(6·2·2 → 5).
Graph conv_model() {
  Model m({3, 8, 8});
  const auto c1 = m.node("Conv", "conv1", {"x", m.constant("w1", m.weights(Shape{8, 3, 3, 3}, 0, 30.0)), m.constant("b1", m.vector(8, 0.5))},
                         attrs({{"pads", std::vector<std::int64_t>{1, 1, 1, 1}}}));
  const auto r1 = m.node("Relu", "relu1", {c1});
  const auto p1 = m.node("MaxPool", "pool1", {r1}, attrs({{"kernel_shape", std::vector<std::int64_t>{2, 2}},
                                                        {"strides", std::vector<std::int64_t>{2, 2}}}));
  const auto c2 = m.node("Conv", "conv2", {p1, m.constant("w2", m.weights(Shape{6, 8, 3, 3}, 1, 30.0)), m.constant("b2", m.vector(6, 0.5))});
  const auto r2 = m.node("Relu", "relu2", {c2});
  const auto f = m.node("Flatten", "flatten", {r2});
  const auto y = m.node("Gemm", "fc", {f, m.constant("w3", m.weights(Shape{5, 24}, 1, 30.0)), m.constant("b3", m.vector(5, 0.5))},
                        attrs({{"transB", std::int64_t{1}}}));
  m.output(y);
  return m.g;
}

// Gemm(16→32) → Relu → Gemm(32→8), and a second Gemm sharing the first one's weights (graph output 2).
Graph gemm_model() {
  Model m({16});
  const auto w1 = m.constant("w1", m.weights(Shape{32, 16}, 0, 100.0));
  const auto h = m.node("Gemm", "fc1", {"x", w1, m.constant("b1", m.vector(32, 0.3))}, attrs({{"transB", std::int64_t{1}}}));
  const auto r = m.node("Relu", "relu", {h});
  const auto y = m.node("Gemm", "fc2", {r, m.constant("w2", m.weights(Shape{32, 8}, 0, 100.0)), m.constant("b2", m.vector(8, 0.3))});
  const auto side = m.node("Gemm", "side", {"x", w1}, attrs({{"transB", std::int64_t{1}}}));
  m.output(y);
  m.output(side);
  return m.g;
}

Tensor random_input(const Shape& s, std::uint32_t seed) {
  Tensor t(DType::f32, s);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (float& v : t.span<float>()) v = u(rng);
  return t;
}

std::vector<Tensor> run(const Graph& g, const Tensor& x) {
  SessionOptions so;
  so.optimize = false;
  const Session s(Graph(g), so);
  return s.run(std::span<const Tensor>(&x, 1));
}

// Every constant of a graph, as bytes.
std::map<std::string, std::vector<std::byte>> constants(const Graph& g) {
  std::map<std::string, std::vector<std::byte>> out;
  for (const auto& [name, v] : g.values)
    if (v.constant) out[name] = std::vector<std::byte>(v.constant->raw(), v.constant->raw() + v.constant->bytes());
  return out;
}

double absmax_slice(std::span<const float> w, std::int64_t begin, std::int64_t count, std::int64_t stride = 1) {
  double m = 0;
  for (std::int64_t i = 0; i < count; ++i) m = std::max(m, double{std::fabs(w[static_cast<std::size_t>(begin + i * stride)])});
  return m;
}

bool has_line(const std::vector<std::string>& log, const std::string& prefix) {
  return std::any_of(log.begin(), log.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
}

const Node& node_named(const Graph& g, const std::string& name) {
  for (const Node& n : g.nodes)
    if (n.name == name) return n;
  FAIL("no node ", name);
  return g.nodes[0];
}

}  // namespace

TEST_CASE("CLE keeps the float outputs and equalizes the per-channel ranges") {
  for (const bool convs : {true, false}) {
    CAPTURE(convs);
    Graph g = convs ? conv_model() : gemm_model();
    prepare_float_graph(g);
    const Graph before = g;
    std::vector<std::string> log;
    apply_cle(g, log);
    // conv1→conv2 (Relu, MaxPool), conv2→fc (Relu, Flatten: channel c = features 4c…4c+3); fc1→fc2 (Relu).
    CHECK(log.size() == (convs ? 3u : 2u));
    CHECK(has_line(log, "cle: '"));
    const Tensor x = random_input(convs ? Shape{5, 3, 8, 8} : Shape{5, 16}, 3);
    const auto a = run(before, x);
    const auto b = run(g, x);
    REQUIRE(a.size() == b.size());
    for (std::size_t o = 0; o < a.size(); ++o) {
      double ref = 0;
      for (float v : a[o].span<float>()) ref = std::max(ref, double{std::fabs(v)});
      for (std::size_t i = 0; i < a[o].span<float>().size(); ++i)
        CHECK(std::fabs(a[o].span<float>()[i] - b[o].span<float>()[i]) <= 1e-5 * ref);
    }
    if (!convs) {
      // One pair: one sweep equalizes exactly, r1'[c] = r2'[c] = sqrt(r1[c]·r2[c]).
      const auto w1a = before.constant(node_named(before, "fc1").inputs[1])->span<float>();  // [32, 16]
      const auto w2a = before.constant(node_named(before, "fc2").inputs[1])->span<float>();  // [32, 8]
      const auto w1b = g.constant(node_named(g, "fc1").inputs[1])->span<float>();
      const auto w2b = g.constant(node_named(g, "fc2").inputs[1])->span<float>();
      double spread_before = 0, spread_after = 0, lo_b = 1e30, hi_b = 0, lo_a = 1e30, hi_a = 0;
      for (std::int64_t c = 0; c < 32; ++c) {
        const double r1 = absmax_slice(w1a, c * 16, 16), r2 = absmax_slice(w2a, c * 8, 8);
        const double r1n = absmax_slice(w1b, c * 16, 16), r2n = absmax_slice(w2b, c * 8, 8);
        CHECK(r1n == doctest::Approx(std::sqrt(r1 * r2)).epsilon(1e-5));
        CHECK(r2n == doctest::Approx(std::sqrt(r1 * r2)).epsilon(1e-5));
        lo_b = std::min(lo_b, r1), hi_b = std::max(hi_b, r1), lo_a = std::min(lo_a, r1n), hi_a = std::max(hi_a, r1n);
      }
      spread_before = hi_b / lo_b;
      spread_after = hi_a / lo_a;
      CHECK(spread_after < spread_before / 10);
      // The weights fc1 shares with 'side' were copied: 'side' still reads the original values.
      const Node& side = node_named(g, "side");
      CHECK(side.inputs[1] != node_named(g, "fc1").inputs[1]);
      CHECK(std::equal(w1a.begin(), w1a.end(), g.constant(side.inputs[1])->span<float>().begin()));
    } else {
      // conv2 → fc through Flatten: conv2's channel c and fc's inputs 4c…4c+3 end with matching ranges
      // up to the convergence of the chain.
      const auto w2 = g.constant(node_named(g, "conv2").inputs[1])->span<float>();  // [6, 8, 3, 3]
      const auto w3 = g.constant(node_named(g, "fc").inputs[1])->span<float>();     // [5, 24]
      for (std::int64_t c = 0; c < 6; ++c) {
        double r2 = 0;
        for (std::int64_t o = 0; o < 5; ++o) r2 = std::max(r2, absmax_slice(w3, o * 24 + c * 4, 4));
        CHECK(absmax_slice(w2, c * 72, 72) == doctest::Approx(r2).epsilon(1e-3));
      }
    }
  }
}

TEST_CASE("bias correction zeroes each layer's mean output error and never changes weights") {
  for (const bool convs : {true, false}) {
    CAPTURE(convs);
    const Graph model = convs ? conv_model() : gemm_model();
    const Tensor calib = random_input(convs ? Shape{64, 3, 8, 8} : Shape{200, 16}, 11);
    QuantConfig cfg = QuantConfig::make(Preset::a8w8);
    cfg.per_channel = false;  // per-tensor weights: large, channel-dependent errors to correct
    TensorReader reader({calib}, 16);
    const QuantizeResult plain = quantize(model, reader, cfg);
    cfg.bias_correction = true;
    const QuantizeResult corrected = quantize(model, reader, cfg);
    CHECK(has_line(corrected.log, "bias correction: 'fc"));

    // The weights are the same bytes; only biases moved.
    const auto c0 = constants(plain.graph), c1 = constants(corrected.graph);
    for (const auto& [name, bytes] : c0)
      if (name.find("_quantized") != std::string::npos && plain.graph.constant(name)->dtype() == DType::i8)
        CHECK_MESSAGE(c1.at(name) == bytes, name);

    // Mean over the calibration data of (W x̂ + b) − (Ŵ x̂ + b̂) per output channel, every layer: ~0
    // after correction (the bias is int32 at s_x·s_w: within half a step), larger before.
    Graph fp = model;
    prepare_float_graph(fp);
    std::vector<std::string> scratch;
    for (const Graph* q : {&plain.graph, &corrected.graph}) {
      double worst = 0;
      for (const QdqLayer& L : qdq_layers(fp, *q, "test", scratch)) {
        const Session taps = tap_session(*q, {L.input}, true, 1);
        const Tensor x = taps.run(std::span<const Tensor>(&calib, 1))[0];
        const Session f = layer_session(single_layer_graph(L, L.weight, &L.bias, fp.opsets));
        const std::vector<float> bq = dequantized_bias(*q, L);
        const Session qs = layer_session(single_layer_graph(L, dequantized_weight(*q, L), &bq, fp.opsets));
        const Tensor yf = f.run(std::span<const Tensor>(&x, 1))[0];
        const Tensor yq = qs.run(std::span<const Tensor>(&x, 1))[0];
        const std::int64_t per = yf.numel() / L.channels;  // conv: N·H·W per channel; gemm: N
        for (std::int64_t c = 0; c < L.channels; ++c) {
          double sum = 0;
          for (std::int64_t i = 0; i < yf.numel(); ++i) {
            const std::int64_t ch = L.op_type == "Conv" ? (i / (per / calib.shape()[0])) % L.channels : i % L.channels;
            if (ch == c) sum += double{yf.span<float>()[static_cast<std::size_t>(i)]} - yq.span<float>()[static_cast<std::size_t>(i)];
          }
          const double mean = sum / static_cast<double>(per);
          const double step = double{L.input_scale} * L.weight_scale(c);
          worst = std::max(worst, std::fabs(mean) / step);
          if (q == &corrected.graph) CHECK_MESSAGE(std::fabs(mean) <= 0.5 * step * (1 + 1e-3) + 1e-6, L.name, " channel ", c);
        }
      }
      if (q == &plain.graph) CHECK(worst > 5);  // in bias steps: there was something to correct
    }
  }
}

TEST_CASE("finetune lowers the layer objective, stays in the rounding space, keeps scales, is deterministic") {
  for (const bool convs : {true, false}) {
    CAPTURE(convs);
    const Graph model = convs ? conv_model() : gemm_model();
    const Tensor calib = random_input(convs ? Shape{48, 3, 8, 8} : Shape{256, 16}, 5);
    for (const auto& [preset, reduced] : {std::pair{Preset::u8s8, false}, {Preset::xint8, false}, {Preset::u8s8, true}}) {
      CAPTURE(name_of(preset));
      CAPTURE(reduced);
      QuantConfig cfg = QuantConfig::make(preset);
      cfg.weight.reduced = reduced;
      cfg.finetune_options.rows = 512;
      const double levels = reduced ? 64 : 127;
      TensorReader reader({calib}, 16);
      const QuantizeResult plain = quantize(model, reader, cfg);
      Graph fp = model;
      prepare_float_graph(fp);
      Graph a = plain.graph, b = plain.graph, c = plain.graph;
      std::vector<std::string> log_a, log_b, log_c;
      const auto ra = finetune(fp, a, reader, cfg, 1, log_a);
      finetune(fp, b, reader, cfg, 1, log_b);
      finetune(fp, c, reader, cfg, 2, log_c);
      CHECK(constants(a) == constants(b));
      CHECK(constants(a) == constants(c));
      CHECK(log_a == log_b);
      REQUIRE(ra.size() == 3);
      CHECK(std::count_if(log_a.begin(), log_a.end(), [](const std::string& l) { return l.rfind("finetune: '", 0) == 0; }) == 3);
      bool improved = false;
      for (const auto& r : ra) {
        CAPTURE(r.layer);
        CHECK(r.after <= r.before);
        improved |= r.after < r.before * 0.99;
      }
      CHECK(improved);
      // Scales unchanged; int8 weights in [−L, L] and within one step of w/s (floor or ceil).
      std::vector<std::string> scratch;
      for (const QdqLayer& L : qdq_layers(fp, a, "test", scratch)) {
        const QdqLayer* P = nullptr;
        const auto pl = qdq_layers(fp, plain.graph, "test", scratch);
        for (const auto& l : pl)
          if (l.name == L.name) P = &l;
        REQUIRE(P != nullptr);
        CHECK(L.weight_scales == P->weight_scales);
        const Tensor& q = quantized_weight(a, L);
        const auto w = L.weight.span<float>();
        std::int64_t inner = 1;
        for (int ax = L.axis + 1; ax < q.shape().rank(); ++ax) inner *= q.shape()[ax];
        for (std::size_t i = 0; i < w.size(); ++i) {
          const int v = q.span<std::int8_t>()[i];
          const double r = double{w[i]} / L.weight_scale((static_cast<std::int64_t>(i) / inner) % L.channels);
          CHECK(v >= -levels);
          CHECK(v <= levels);
          CHECK((v == std::clamp(std::floor(r), -levels, levels) || v == std::clamp(std::ceil(r), -levels, levels)));
        }
      }
      for (const auto& [name, bytes] : constants(plain.graph))
        if (name.find("_scale") != std::string::npos) CHECK_MESSAGE(constants(a).at(name) == bytes, name);
    }
  }
}

TEST_CASE("finetune's objective, checked independently on a one-layer model with every row") {
  Model m({24});
  const auto y = m.node("Gemm", "fc", {"x", m.constant("w", m.weights(Shape{10, 24}, 0, 10.0)), m.constant("b", m.vector(10, 0.2))},
                        attrs({{"transB", std::int64_t{1}}}));
  m.output(y);
  // Correlated features (a shared factor plus a little noise per feature), as neighbouring pixels
  // are: rounding errors then add up along the shared direction and flipping some of them pays.
  // With independent features nearest rounding is already (almost) optimal and nothing flips.
  Tensor calib(DType::f32, Shape{300, 24});
  {
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    auto v = calib.span<float>();
    for (std::size_t i = 0; i < 300; ++i) {
      const float shared = u(rng);
      for (std::size_t k = 0; k < 24; ++k) v[i * 24 + k] = 0.9f * shared + 0.1f * u(rng);
    }
  }
  QuantConfig cfg = QuantConfig::make(Preset::u8s8);
  cfg.finetune_options.samples = 300;
  cfg.finetune_options.rows = 300;  // every sample's row
  TensorReader reader({calib}, 64);
  const QuantizeResult plain = quantize(m.g, reader, cfg);
  Graph fp = m.g;
  prepare_float_graph(fp);
  Graph tuned = plain.graph;
  std::vector<std::string> log;
  const auto r = finetune(fp, tuned, reader, cfg, 1, log);
  REQUIRE(r.size() == 1);
  CHECK(r[0].rows == 300);
  std::string joined;
  for (const auto& line : log) {
    joined += line;
    joined += '\n';
  }
  INFO("finetune log:\n" << joined);

  // mean over rows and channels of (Ŵ x̂ + b̂ − y)², x̂ = the quantized input, y = the float output.
  const Tensor yf = run(fp, calib)[0];
  auto objective = [&](const Graph& q) {
    std::vector<std::string> scratch;
    const QdqLayer L = qdq_layers(fp, q, "test", scratch).at(0);
    const Tensor x = tap_session(q, {L.input}, true, 1).run(std::span<const Tensor>(&calib, 1))[0];
    const Tensor w = dequantized_weight(q, L);
    const std::vector<float> b = dequantized_bias(q, L);
    double sum = 0;
    for (std::int64_t i = 0; i < 300; ++i)
      for (std::int64_t c = 0; c < 10; ++c) {
        double acc = b[static_cast<std::size_t>(c)];
        for (std::int64_t k = 0; k < 24; ++k)
          acc += double{w.span<float>()[static_cast<std::size_t>(c * 24 + k)]} * x.span<float>()[static_cast<std::size_t>(i * 24 + k)];
        const double e = acc - yf.span<float>()[static_cast<std::size_t>(i * 10 + c)];
        sum += e * e;
      }
    return sum / 3000.0;
  };
  const double before = objective(plain.graph), after = objective(tuned);
  CHECK(r[0].before == doctest::Approx(before).epsilon(1e-4));
  CHECK(r[0].after == doctest::Approx(after).epsilon(1e-4));
  CHECK(after < before);
  CHECK(r[0].flipped > 0);

  // Through quantize(): the three tools together append their lines.
  cfg.cle = true;  // (one layer: no pair; CLE says so)
  cfg.finetune = true;
  cfg.bias_correction = true;
  const QuantizeResult all = quantize(m.g, reader, cfg);
  CHECK(has_line(all.log, "cle: no pair"));
  CHECK(has_line(all.log, "finetune: 'fc'"));
  CHECK(has_line(all.log, "bias correction: 'fc'"));
}

TEST_CASE("s8s8 is u8s8's grid shifted by 128: int8 zero points, the same outputs bit for bit") {
  const Graph model = conv_model();
  const Tensor calib = random_input(Shape{64, 3, 8, 8}, 23);
  TensorReader ru({calib}, 16), rs({calib}, 16);
  const QuantizeResult u = quantize(model, ru, QuantConfig::make(Preset::u8s8));
  const QuantizeResult q = quantize(model, rs, QuantConfig::make(Preset::s8s8));
  int activations = 0, at_minus_128 = 0;
  for (const Node& n : q.graph.nodes) {
    if (n.op_type != "QuantizeLinear" || n.inputs.size() < 3) continue;
    const Tensor* zp = q.graph.constant(n.inputs[2]);
    REQUIRE(zp != nullptr);
    if (zp->dtype() == DType::i8 && zp->numel() == 1) {
      ++activations;
      at_minus_128 += zp->span<std::int8_t>()[0] == -128;  // post-ReLU: min 0 on the lowest code
    }
  }
  CHECK(activations >= 4);
  CHECK(at_minus_128 >= 2);
  const Tensor x = random_input(Shape{8, 3, 8, 8}, 29);
  const auto a = run(u.graph, x);
  const auto b = run(q.graph, x);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(std::memcmp(a[i].raw(), b[i].raw(), a[i].bytes()) == 0);
  CHECK(parse_preset("s8s8") == Preset::s8s8);
}

TEST_CASE("reduce_range: weights on [−64, 64] with scale max|w|/64 per channel; only 8-bit weights, not xint8") {
  const QuantTarget r8{DType::i8, true, false, true};
  CHECK(r8.qmin() == -64);
  CHECK(r8.qmax() == 64);
  CHECK(r8.symmetric_levels() == 64);
  CHECK(QuantTarget{DType::u8, false, false, true}.qmax() == 127);
  CHECK_THROWS_WITH_AS(QuantTarget(DType::i16, true, false, true).qmax(), doctest::Contains("int8 or uint8"), qnn::error);

  const Graph model = conv_model();
  const Tensor calib = random_input(Shape{32, 3, 8, 8}, 31);
  Graph fp = model;
  prepare_float_graph(fp);
  for (const bool per_channel : {true, false}) {
    CAPTURE(per_channel);
    QuantConfig cfg = QuantConfig::make(Preset::u8s8);
    cfg.per_channel = per_channel;
    cfg.weight.reduced = true;
    TensorReader reader({calib}, 16);
    const QuantizeResult res = quantize(model, reader, cfg);
    std::vector<std::string> scratch;
    const auto layers = qdq_layers(fp, res.graph, "test", scratch);
    REQUIRE(layers.size() == 3);
    for (const QdqLayer& L : layers) {
      CAPTURE(L.name);
      const Tensor& qt = quantized_weight(res.graph, L);
      const auto q = qt.span<std::int8_t>();
      const auto w = L.weight.span<float>();
      std::int64_t inner = 1;
      for (int ax = L.axis + 1; ax < qt.shape().rank(); ++ax) inner *= qt.shape()[ax];
      const std::int64_t groups = per_channel ? L.channels : 1;
      std::vector<double> absmax(static_cast<std::size_t>(groups), 0.0);
      std::vector<int> qmax(static_cast<std::size_t>(groups), 0);
      for (std::size_t i = 0; i < w.size(); ++i) {
        const auto c = static_cast<std::size_t>(per_channel ? (static_cast<std::int64_t>(i) / inner) % L.channels : 0);
        absmax[c] = std::max(absmax[c], double{std::fabs(w[i])});
        qmax[c] = std::max(qmax[c], std::abs(int{q[i]}));
      }
      for (std::int64_t c = 0; c < groups; ++c) {
        CHECK(qmax[static_cast<std::size_t>(c)] == 64);
        CHECK(L.weight_scale(c) == static_cast<float>(absmax[static_cast<std::size_t>(c)] / 64));
      }
    }
  }
  QuantConfig x = QuantConfig::make(Preset::xint8);
  x.weight.reduced = true;
  CHECK_THROWS_WITH_AS(x.validate(), doctest::Contains("reduce_range"), qnn::error);
  QuantConfig a = QuantConfig::make(Preset::u8s8);
  a.activation.reduced = true;
  CHECK_THROWS_WITH_AS(a.validate(), doctest::Contains("weights only"), qnn::error);
}

TEST_CASE("calibration statistics are the same for every thread count and batch size") {
  // 256 samples of conv1's 8x8x8 output: 131,072 values per batch, split across threads.
  const Graph model = conv_model();
  std::set<std::string> tensors{"x"};
  for (const Node& n : model.nodes) tensors.insert(n.outputs.begin(), n.outputs.end());
  const Tensor calib = random_input(Shape{512, 3, 8, 8}, 17);
  QuantConfig cfg = QuantConfig::make(Preset::u8s8);
  cfg.method = CalibMethod::percentile;  // ranges and histograms
  TensorReader r1({calib}, 256);
  std::vector<std::pair<std::int64_t, std::int64_t>> progress;  // one pass: once per batch
  const CalibrationStats one =
      collect_statistics(model, tensors, r1, cfg, 1, [&](std::int64_t done, std::int64_t total) {
        progress.emplace_back(done, total);
      });
  CHECK(progress == std::vector<std::pair<std::int64_t, std::int64_t>>{{256, 512}, {512, 512}});
  // Threads, and batches of another size: the histogram's grid follows the range batch by batch,
  // yet the statistics do not depend on where the batches end.
  for (const auto& [threads, batch] : {std::pair{2, 256}, std::pair{3, 256}, std::pair{1, 37}, std::pair{2, 512}}) {
    CAPTURE(threads);
    CAPTURE(batch);
    TensorReader rt({calib}, batch);
    const CalibrationStats st = collect_statistics(model, tensors, rt, cfg, threads, {});
    for (const std::string& t : tensors) {
      CAPTURE(t);
      CHECK(st.ranges.at(t).min == one.ranges.at(t).min);
      CHECK(st.ranges.at(t).max == one.ranges.at(t).max);
      CHECK(st.ranges.at(t).count == one.ranges.at(t).count);
      CHECK(st.histograms.at(t).lo == one.histograms.at(t).lo);
      CHECK(st.histograms.at(t).counts == one.histograms.at(t).counts);
    }
  }
  CHECK(one.ranges.at("conv1_out").count == 512 * 8 * 8 * 8);
}

TEST_CASE("NaN or infinity in calibration data: an error naming the input and the sample, not a scale") {
  const Graph model = conv_model();
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    Tensor calib = random_input(Shape{40, 3, 8, 8}, 5);
    calib.span<float>()[static_cast<std::size_t>(37 * 3 * 8 * 8 + 5)] = bad;  // sample 37, element 5
    const Tensor before = calib;
    TensorReader reader({calib}, 16);
    std::string what;
    try {
      quantize(model, reader, QuantConfig::make(Preset::u8s8));
    } catch (const qnn::error& e) {
      what = e.what();
    }
    CHECK_MESSAGE(what.find("calibration data: input '") != std::string::npos, what);
    CHECK_MESSAGE(what.find("' sample 37 holds ") != std::string::npos, what);
    CHECK_MESSAGE(what.find("(element 5)") != std::string::npos, what);
    // The caller's tensor is left as it was.
    CHECK(std::memcmp(before.raw(), calib.raw(), calib.bytes()) == 0);
  }
}
