// qnn's conv and GEMM/FC kernels, one layer at a time on one core: INT8 (QuantizedConv2D /
// QuantizedGemm: u8 activations, per-channel symmetric s8 weights, u8 outputs, onnx_float
// requantization), FP32 and BF16 (FloatConv2D / FloatGemm), on the shapes of shapes.hpp. Layers are
// prepared (weights packed, factors precomputed) before timing; a timed run is what a session does
// per node: im2col or activation packing, the GEMM, and the epilogue into the output tensor.
//
// INT8 cases run twice: "int8/" with weights on [−127, 127] (the int16-pair kernel) and "int8r/"
// with weights on [−64, 64], ONNX Runtime's reduce_range (the u8×s8 byte kernel on x86,
// kernels/cpu/u8s8.hpp); the label names the kernel a layer took.
//
// Counters (counters.hpp): GMAC/s, % of the arithmetic's peak, and for the int16 kernel also
// pct_madd16, the share of the int16-pair madd peak it is built on. Data are random: run time does
// not depend on values.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "counters.hpp"
#include "qnn/kernels/conv2d.hpp"
#include "qnn/kernels/dispatch.hpp"
#include "qnn/kernels/gemm.hpp"
#include "shapes.hpp"

namespace {

using namespace qnn;
using qnn_bench::Arith;
using qnn_bench::ConvCase;
using qnn_bench::GemmCase;

using WeightScheme = PerChannel<std::int8_t, float, Symmetry::symmetric>;

template <class T>
Tensor random_ints(std::mt19937& rng, const Shape& s, int lo, int hi) {
  Tensor t(dtype_of_v<T>, s);
  std::uniform_int_distribution<int> d(lo, hi);
  for (T& v : t.span<T>()) v = static_cast<T>(d(rng));
  return t;
}

// fp32 or bf16 values in [lo, hi).
template <class T>
Tensor random_reals(std::mt19937& rng, const Shape& s, float lo, float hi) {
  Tensor t(dtype_of_v<T>, s);
  std::uniform_real_distribution<float> d(lo, hi);
  for (T& v : t.span<T>()) v = T(d(rng));
  return t;
}

std::vector<std::int32_t> random_bias(std::mt19937& rng, std::int64_t n) {
  std::vector<std::int32_t> b(static_cast<std::size_t>(n));
  std::uniform_int_distribution<int> d(-1000, 1000);
  for (auto& v : b) v = d(rng);
  return b;
}

WeightScheme weight_scheme(int axis, std::int64_t channels) {
  return WeightScheme(axis, std::vector<float>(static_cast<std::size_t>(channels), 0.01f));
}

// The timed loop shared by every case: layer.run(x, y) on one thread with a reused workspace.
template <class X, class Y, class Layer>
void time_layer(benchmark::State& st, const Layer& layer, const Tensor& x, Tensor& y, double macs, Arith arith,
                bool byte_kernel = false) {
  cpu::LocalExec local;
  const cpu::Exec ex = local.exec();
  const TensorView<const X> xv = x.view<X>();
  const TensorView<Y> yv = y.view<Y>();
  for (auto _ : st) {
    layer.run(xv, yv, ex);
    benchmark::ClobberMemory();
  }
  qnn_bench::set_mac_counters(st, macs, arith);
  if (arith == Arith::int8 && !byte_kernel)
    qnn_bench::add_peak_counter(st, "pct_madd16", macs, qnn_bench::peak_gmacs("madd16"));
  st.SetLabel(std::string(simd::active_target()) + (arith != Arith::int8 ? "" : byte_kernel ? " u8s8" : " int16"));
}

ConvOptions conv_options(const ConvCase& c) {
  ConvOptions o;
  o.window.pads = {c.pad, c.pad, c.pad, c.pad};
  return o;
}

void bm_conv_int8(benchmark::State& st, const ConvCase& c, int wmax) {
  std::mt19937 rng(1);
  const Tensor x = random_ints<std::uint8_t>(rng, Shape{c.n, c.c, c.h, c.w}, 0, 255);
  const Tensor w = random_ints<std::int8_t>(rng, Shape{c.m, c.c, c.k, c.k}, -wmax, wmax);
  const PerTensor<std::uint8_t> xq(1.0f / 255, c.src_zero_point);
  const PerTensor<std::uint8_t> yq(0.05f, 128);
  const QuantizedConv2D<std::uint8_t, std::int8_t, std::uint8_t> layer(
      xq, QView<const std::int8_t, WeightScheme>{w.view<std::int8_t>(), weight_scheme(0, c.m)},
      random_bias(rng, c.m), yq, conv_options(c));
  Tensor y(DType::u8, layer.geometry(x.shape()).output_shape());
  time_layer<std::uint8_t, std::uint8_t>(st, layer, x, y, c.macs(), Arith::int8, layer.byte_kernel());
}

template <class T>  // float or bf16 activations and weights
void bm_conv_float(benchmark::State& st, const ConvCase& c) {
  std::mt19937 rng(2);
  const Tensor x = random_reals<T>(rng, Shape{c.n, c.c, c.h, c.w}, 0.0f, 1.0f);
  const Tensor w = random_reals<float>(rng, Shape{c.m, c.c, c.k, c.k}, -0.5f, 0.5f);
  const std::vector<float> bias(static_cast<std::size_t>(c.m), 0.1f);
  const FloatConv2D<T> layer(w.view<float>(), bias, conv_options(c));
  Tensor y(DType::f32, layer.geometry(x.shape()).output_shape());
  time_layer<T, float>(st, layer, x, y, c.macs(), Arith::fp32);
}

// Weights [N, K] with trans_b: the layout of a PyTorch Linear and of the model's Gemm nodes.
GemmOptions gemm_options() {
  GemmOptions o;
  o.trans_b = true;
  return o;
}

void bm_gemm_int8(benchmark::State& st, const GemmCase& g, int wmax) {
  std::mt19937 rng(3);
  const Tensor a = random_ints<std::uint8_t>(rng, Shape{g.m, g.k}, 0, 255);
  const Tensor b = random_ints<std::int8_t>(rng, Shape{g.n, g.k}, -wmax, wmax);
  const PerTensor<std::uint8_t> xq(1.0f / 255, g.src_zero_point);
  const PerTensor<std::uint8_t> yq(0.1f, 128);
  const QuantizedGemm<std::uint8_t, std::int8_t, std::uint8_t> layer(
      xq, QView<const std::int8_t, WeightScheme>{b.view<std::int8_t>(), weight_scheme(0, g.n)},
      random_bias(rng, g.n), yq, gemm_options());
  Tensor c(DType::u8, Shape{g.m, g.n});
  time_layer<std::uint8_t, std::uint8_t>(st, layer, a, c, g.macs(), Arith::int8, layer.byte_kernel());
}

template <class T>
void bm_gemm_float(benchmark::State& st, const GemmCase& g) {
  std::mt19937 rng(4);
  const Tensor a = random_reals<T>(rng, Shape{g.m, g.k}, 0.0f, 1.0f);
  const Tensor b = random_reals<float>(rng, Shape{g.n, g.k}, -0.5f, 0.5f);
  const std::vector<float> bias(static_cast<std::size_t>(g.n), 0.1f);
  const FloatGemm<T> layer(b.view<float>(), bias, gemm_options());
  Tensor c(DType::f32, Shape{g.m, g.n});
  time_layer<T, float>(st, layer, a, c, g.macs(), Arith::fp32);
}

}  // namespace

int main(int argc, char** argv) {
  using benchmark::RegisterBenchmark;
  for (const ConvCase& c : qnn_bench::conv_cases()) {
    RegisterBenchmark(("int8/" + c.name).c_str(), bm_conv_int8, c, 127);
    RegisterBenchmark(("int8r/" + c.name).c_str(), bm_conv_int8, c, 64);
    RegisterBenchmark(("fp32/" + c.name).c_str(), bm_conv_float<float>, c);
    RegisterBenchmark(("bf16/" + c.name).c_str(), bm_conv_float<bf16>, c);
  }
  for (const GemmCase& g : qnn_bench::gemm_cases()) {
    RegisterBenchmark(("int8/" + g.name).c_str(), bm_gemm_int8, g, 127);
    RegisterBenchmark(("int8r/" + g.name).c_str(), bm_gemm_int8, g, 64);
    RegisterBenchmark(("fp32/" + g.name).c_str(), bm_gemm_float<float>, g);
    RegisterBenchmark(("bf16/" + g.name).c_str(), bm_gemm_float<bf16>, g);
  }
  benchmark::AddCustomContext("qnn_kernels", simd::active_target());
  benchmark::AddCustomContext("peak_isa", qnn_bench::peak_isa());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
