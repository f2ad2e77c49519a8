// oneDNN, the peer of bench_kernels: the same conv and matmul shapes (shapes.hpp), the same case
// names and counters, on one thread.
//
// INT8 is configured as qnn's layers are: u8 source (with its zero point when the case has one),
// s8 weights with per-output-channel scales (output scales, mask on the channel axis), s32 bias,
// u8 destination with a zero point. FP32 is f32 throughout. oneDNN picks its own layouts
// (format_tag::any): weights are reordered once before timing, like qnn's packing; the convolution
// source is reordered from NCHW to oneDNN's choice (NHWC or blocked) once, before timing too, since a
// oneDNN-based runtime keeps activations in that layout from layer to layer. Timed: one primitive
// execution and the stream wait. The implementation oneDNN chose is the label (e.g. "jit_int8:avx2";
// a "ref" there would mean a slow fallback, and the table shows it).
//
// Threads: Debian's libdnnl threads with OpenMP; main() calls omp_set_num_threads(1) before the
// first primitive is made (OMP_NUM_THREADS=1 has the same effect).
//
// Exactness: before timing, every INT8 case also runs once with an s32 destination and no scales,
// on the timed case's data (weights on [−127, 127]) and on 7-bit weights ([−64, 64], qnn's "int8r/"
// rows), and its sums are compared with exact ones. Without VNNI, oneDNN's u8×s8 kernels add two
// products in int16 with saturation (vpmaddubsw), so full-range weights against inputs up to 255
// give wrong sums, which qnn's kernels never do; the context key "exact:int8/CASE" holds
// "WRONG OUTPUTS MAX_ABS_ERROR WRONG_7BIT" and bench/report.py prints it beside the rates.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dnnl.hpp>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "counters.hpp"
#include "shapes.hpp"

namespace {

using qnn_bench::Arith;
using qnn_bench::ConvCase;
using qnn_bench::GemmCase;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

struct Cpu {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};
Cpu& cpu() {
  static Cpu c;
  return c;
}

// The types of one arithmetic: INT8 = u8 × s8 → u8 with s32 bias, FP32 = f32 throughout.
struct Types {
  dt src, wei, bias, dst;
};
Types types_of(Arith a) {
  return a == Arith::int8 ? Types{dt::u8, dt::s8, dt::s32, dt::u8} : Types{dt::f32, dt::f32, dt::f32, dt::f32};
}

// A plain (row-major) memory of random values in the type's benchmark range; s8 on ±s8_max.
dnnl::memory random_memory(const dims& d, dt type, tag layout, std::mt19937& rng, int s8_max = 127) {
  dnnl::memory m({d, type, layout}, cpu().engine);
  const std::size_t bytes = m.get_desc().get_size();
  auto* p = static_cast<std::uint8_t*>(m.get_data_handle());
  if (type == dt::f32) {
    std::uniform_real_distribution<float> f(-0.5f, 0.5f);
    for (std::size_t i = 0; i < bytes / 4; ++i) {
      const float v = f(rng);
      std::memcpy(p + 4 * i, &v, 4);
    }
  } else if (type == dt::s32) {
    std::uniform_int_distribution<std::int32_t> s(-1000, 1000);
    for (std::size_t i = 0; i < bytes / 4; ++i) {
      const std::int32_t v = s(rng);
      std::memcpy(p + 4 * i, &v, 4);
    }
  } else {  // u8 over 0..255; s8 over -s8_max..s8_max
    std::uniform_int_distribution<int> b(type == dt::u8 ? 0 : -s8_max, type == dt::u8 ? 255 : s8_max);
    for (std::size_t i = 0; i < bytes; ++i) p[i] = static_cast<std::uint8_t>(b(rng));
  }
  return m;
}

// `m` in the layout `want`: a copy made by a reorder when it differs.
dnnl::memory in_layout(dnnl::memory m, const dnnl::memory::desc& want) {
  if (m.get_desc() == want) return m;
  dnnl::memory out(want, cpu().engine);
  dnnl::reorder(m, out).execute(cpu().stream, m, out);
  cpu().stream.wait();
  return out;
}

dnnl::memory s32_scalar(std::int32_t v) {
  dnnl::memory m({{1}, dt::s32, tag::x}, cpu().engine);
  *static_cast<std::int32_t*>(m.get_data_handle()) = v;
  return m;
}

// The INT8 quantization attributes: per-channel output scales along `channel_axis` of the
// destination (the factor s_x·s_w/s_y of bench_kernels' conv layers; any value costs the same), a
// runtime source zero point when there is one, a runtime destination zero point. Adds the
// zero-point arguments to `args`.
dnnl::primitive_attr int8_attr(std::int64_t channels, int channel_axis, std::int32_t src_zp,
                               std::unordered_map<int, dnnl::memory>& args) {
  dnnl::primitive_attr attr;
  attr.set_output_scales(1 << channel_axis, std::vector<float>(static_cast<std::size_t>(channels), 0.01f / 255 / 0.05f));
  if (src_zp != 0) {
    attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = s32_scalar(src_zp);
  }
  attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
  args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST] = s32_scalar(128);
  return attr;
}

void time_primitive(benchmark::State& st, const dnnl::primitive& p, std::unordered_map<int, dnnl::memory>& args,
                    double macs, Arith arith, const char* impl) {
  for (auto _ : st) {
    p.execute(cpu().stream, args);
    cpu().stream.wait();
  }
  qnn_bench::set_mac_counters(st, macs, arith);
  st.SetLabel(impl);
}

void bm_conv(benchmark::State& st, const ConvCase& c, Arith arith) {
  std::mt19937 rng(5);
  const Types t = types_of(arith);
  const dims src_d{c.n, c.c, c.h, c.w}, wei_d{c.m, c.c, c.k, c.k}, dst_d{c.n, c.m, c.oh(), c.ow()};
  std::unordered_map<int, dnnl::memory> args;
  const dnnl::primitive_attr attr = arith == Arith::int8 ? int8_attr(c.m, 1, c.src_zero_point, args) : dnnl::primitive_attr();
  const dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, {src_d, t.src, tag::any},
      {wei_d, t.wei, tag::any}, {{c.m}, t.bias, tag::x}, {dst_d, t.dst, tag::any}, {1, 1}, {c.pad, c.pad},
      {c.pad, c.pad});
  const dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu().engine);
  args[DNNL_ARG_SRC] = in_layout(random_memory(src_d, t.src, tag::nchw, rng), pd.src_desc());
  args[DNNL_ARG_WEIGHTS] = in_layout(random_memory(wei_d, t.wei, tag::oihw, rng), pd.weights_desc());
  args[DNNL_ARG_BIAS] = random_memory({c.m}, t.bias, tag::x, rng);
  args[DNNL_ARG_DST] = dnnl::memory(pd.dst_desc(), cpu().engine);
  time_primitive(st, dnnl::convolution_forward(pd), args, c.macs(), arith, pd.impl_info_str());
}

void bm_matmul(benchmark::State& st, const GemmCase& g, Arith arith) {
  std::mt19937 rng(6);
  const Types t = types_of(arith);
  const dims src_d{g.m, g.k}, wei_d{g.k, g.n}, dst_d{g.m, g.n};
  std::unordered_map<int, dnnl::memory> args;
  const dnnl::primitive_attr attr = arith == Arith::int8 ? int8_attr(g.n, 1, g.src_zero_point, args) : dnnl::primitive_attr();
  const dnnl::matmul::desc desc({src_d, t.src, tag::ab}, {wei_d, t.wei, tag::any}, {{1, g.n}, t.bias, tag::ab},
                                {dst_d, t.dst, tag::ab});
  const dnnl::matmul::primitive_desc pd(desc, attr, cpu().engine);
  args[DNNL_ARG_SRC] = random_memory(src_d, t.src, tag::ab, rng);
  args[DNNL_ARG_WEIGHTS] = in_layout(random_memory(wei_d, t.wei, tag::ab, rng), pd.weights_desc());
  args[DNNL_ARG_BIAS] = random_memory({1, g.n}, t.bias, tag::ab, rng);
  args[DNNL_ARG_DST] = dnnl::memory(pd.dst_desc(), cpu().engine);
  time_primitive(st, dnnl::matmul(pd), args, g.macs(), arith, pd.impl_info_str());
}

// oneDNN's sums on one INT8 case against exact ones.
struct Exactness {
  std::int64_t outputs = 0, wrong = 0, max_error = 0;
};

Exactness compare(const std::vector<std::int32_t>& exact, const dnnl::memory& got) {
  const auto* g = static_cast<const std::int32_t*>(got.get_data_handle());
  Exactness e;
  e.outputs = static_cast<std::int64_t>(exact.size());
  for (std::size_t i = 0; i < exact.size(); ++i) {
    const std::int64_t d = std::abs(std::int64_t{exact[i]} - g[i]);
    e.wrong += d != 0;
    e.max_error = std::max(e.max_error, d);
  }
  return e;
}

// Runs `desc`'s primitive once on plain `src` and `wei` (reordered to its layouts) with the source
// zero point `src_zp`, and returns its s32 destination in the plain layout `plain_dst`.
template <class Primitive>
dnnl::memory run_s32(const typename Primitive::desc& desc, const dnnl::memory& src, const dnnl::memory& wei,
                     std::int32_t src_zp, const dnnl::memory::desc& plain_dst) {
  std::unordered_map<int, dnnl::memory> args;
  dnnl::primitive_attr attr;
  if (src_zp != 0) {
    attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = s32_scalar(src_zp);
  }
  const typename Primitive::primitive_desc pd(desc, attr, cpu().engine);
  args[DNNL_ARG_SRC] = in_layout(src, pd.src_desc());
  args[DNNL_ARG_WEIGHTS] = in_layout(wei, pd.weights_desc());
  args[DNNL_ARG_DST] = dnnl::memory(pd.dst_desc(), cpu().engine);
  Primitive(pd).execute(cpu().stream, args);
  cpu().stream.wait();
  return in_layout(args[DNNL_ARG_DST], plain_dst);
}

// The conv case's data as bm_conv draws it (same seed and order; weights on ±s8_max).
Exactness conv_exactness(const ConvCase& c, int s8_max) {
  std::mt19937 rng(5);
  const dims src_d{c.n, c.c, c.h, c.w}, wei_d{c.m, c.c, c.k, c.k}, dst_d{c.n, c.m, c.oh(), c.ow()};
  const dnnl::memory src = random_memory(src_d, dt::u8, tag::nchw, rng);
  const dnnl::memory wei = random_memory(wei_d, dt::s8, tag::oihw, rng, s8_max);
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                             {src_d, dt::u8, tag::any}, {wei_d, dt::s8, tag::any},
                                             {dst_d, dt::s32, tag::any}, {1, 1}, {c.pad, c.pad}, {c.pad, c.pad});
  const dnnl::memory got =
      run_s32<dnnl::convolution_forward>(desc, src, wei, c.src_zero_point, {dst_d, dt::s32, tag::nchw});
  const auto* x = static_cast<const std::uint8_t*>(src.get_data_handle());
  const auto* w = static_cast<const std::int8_t*>(wei.get_data_handle());
  const std::int64_t oh = c.oh(), ow = c.ow();
  std::vector<std::int32_t> exact(static_cast<std::size_t>(c.n * c.m * oh * ow), 0);
  for (std::int64_t n = 0; n < c.n; ++n)
    for (std::int64_t m = 0; m < c.m; ++m) {
      std::int32_t* out = exact.data() + (n * c.m + m) * oh * ow;
      for (std::int64_t ci = 0; ci < c.c; ++ci)
        for (std::int64_t ky = 0; ky < c.k; ++ky)
          for (std::int64_t kx = 0; kx < c.k; ++kx) {
            const std::int32_t wv = w[((m * c.c + ci) * c.k + ky) * c.k + kx];
            for (std::int64_t y = 0; y < oh; ++y) {
              const std::int64_t iy = y + ky - c.pad;
              if (iy < 0 || iy >= c.h) continue;  // zero padding (the padded cases have no zero point)
              for (std::int64_t xo = 0; xo < ow; ++xo) {
                const std::int64_t ix = xo + kx - c.pad;
                if (ix >= 0 && ix < c.w)
                  out[y * ow + xo] += (std::int32_t{x[((n * c.c + ci) * c.h + iy) * c.w + ix]} - c.src_zero_point) * wv;
              }
            }
          }
    }
  return compare(exact, got);
}

// The matmul case's data as bm_matmul draws it.
Exactness matmul_exactness(const GemmCase& g, int s8_max) {
  std::mt19937 rng(6);
  const dims src_d{g.m, g.k}, wei_d{g.k, g.n}, dst_d{g.m, g.n};
  const dnnl::memory src = random_memory(src_d, dt::u8, tag::ab, rng);
  const dnnl::memory wei = random_memory(wei_d, dt::s8, tag::ab, rng, s8_max);
  const dnnl::matmul::desc desc({src_d, dt::u8, tag::ab}, {wei_d, dt::s8, tag::any}, {dst_d, dt::s32, tag::ab});
  const dnnl::memory got = run_s32<dnnl::matmul>(desc, src, wei, g.src_zero_point, {dst_d, dt::s32, tag::ab});
  const auto* a = static_cast<const std::uint8_t*>(src.get_data_handle());
  const auto* b = static_cast<const std::int8_t*>(wei.get_data_handle());
  std::vector<std::int32_t> exact(static_cast<std::size_t>(g.m * g.n), 0);
  for (std::int64_t i = 0; i < g.m; ++i)
    for (std::int64_t k = 0; k < g.k; ++k) {
      const std::int32_t av = std::int32_t{a[i * g.k + k]} - g.src_zero_point;
      for (std::int64_t j = 0; j < g.n; ++j) exact[static_cast<std::size_t>(i * g.n + j)] += av * b[k * g.n + j];
    }
  return compare(exact, got);
}

// "WRONG OUTPUTS MAX_ABS_ERROR WRONG_7BIT" for the context key "exact:int8/CASE".
template <class Case, class Check>
void add_exactness(const Case& c, Check check) {
  const Exactness full = check(c, 127), reduced = check(c, 64);
  benchmark::AddCustomContext("exact:int8/" + c.name, std::to_string(full.wrong) + " " + std::to_string(full.outputs) +
                                                          " " + std::to_string(full.max_error) + " " +
                                                          std::to_string(reduced.wrong));
}

}  // namespace

int main(int argc, char** argv) {
  omp_set_num_threads(1);
  using benchmark::RegisterBenchmark;
  for (const ConvCase& c : qnn_bench::conv_cases()) {
    RegisterBenchmark(("int8/" + c.name).c_str(), bm_conv, c, Arith::int8);
    RegisterBenchmark(("fp32/" + c.name).c_str(), bm_conv, c, Arith::fp32);
  }
  for (const GemmCase& g : qnn_bench::gemm_cases()) {
    RegisterBenchmark(("int8/" + g.name).c_str(), bm_matmul, g, Arith::int8);
    RegisterBenchmark(("fp32/" + g.name).c_str(), bm_matmul, g, Arith::fp32);
  }
  const dnnl_version_t* v = dnnl_version();
  benchmark::AddCustomContext("onednn_version", std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                                                    std::to_string(v->patch));
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  benchmark::AddCustomContext("peak_isa", qnn_bench::peak_isa());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (const ConvCase& c : qnn_bench::conv_cases()) add_exactness(c, conv_exactness);
  for (const GemmCase& g : qnn_bench::gemm_cases()) add_exactness(g, matmul_exactness);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
