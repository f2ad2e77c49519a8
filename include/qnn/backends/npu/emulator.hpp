// The NPU emulator backend ("npu-emu"): runs on the CPU what the NPU would run, with the NPU's
// integer arithmetic, and leaves on the CPU — with the reason — what the NPU would not take. This is
// how a user predicts NPU accuracy before touching hardware:
//
//   qnn::BasicSession<qnn::backends::npu::Emulator> s(graph, options);   // a Quark/qnn XINT8 model
//   s.partition();                                                       // what runs where, and why
//   evaluate_classifier(s, images, labels);                              // the NPU's accuracy
//
// Placement is npu::check_layer (layer_support.hpp): the NPU layer-support table and the XINT8
// shift rules. Arithmetic, per operator:
//   Conv, FC (QGemm, QLinearMatMul with constant weights), Add, Mul, Concat
//       qnn's kernels under the npu_pow2 policy (docs/numerics.md §4.4, §5), which is the DPU's rule:
//       int32 accumulation, bias at the accumulator scale, one arithmetic shift by
//       shift_cut = ipos + wpos − opos rounding half up, saturation to int8 (XINT8: uint8 = int8 +
//       128), fused ReLU/Clip as the output clamp; Add aligns its inputs by exact left shifts
//       (shift_read) and writes with one rounded shift (shift_write). Integer results are therefore
//       bit-exact with the reference kernels under npu_pow2 — tests/backends prove it.
//   MaxPool, Reshape, Flatten, Squeeze, Unsqueeze, Identity, Slice (crop)
//       exact data movement: qnn's kernels on the INT8 data.
//   AveragePool, GlobalAveragePool, Sigmoid (as a hard sigmoid), HardSigmoid, LeakyReLU, ReLU, Clip
//       the emulator's own kernels (emu_kernels.hpp) with the DPU's fixed-point constants
//       (dpu_arith.hpp): sum·k/2^n, relu6(x+3)·2731/16384, α → round(256α)/256, shifts rounding half
//       up. These differ from a float model by design: that difference is what is being predicted.
// The session's requantization option does not apply to nodes on the emulator (the NPU has one
// arithmetic); nodes that fall back to the CPU follow it as usual, and `qnn inspect --backend
// npu-emu` sets npu-pow2 for them (the DPU's half-up rounding also on the host quantize step).
// The emulator computes inside submit(): its tickets are born ready.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "qnn/backends/backend.hpp"
#include "qnn/backends/npu/dpu_arith.hpp"
#include "qnn/backends/npu/emu_kernels.hpp"
#include "qnn/backends/npu/layer_support.hpp"
#include "qnn/numerics/requantize.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/quant_params_io.hpp"
#include "qnn/runtime/ops/registry.hpp"
#include "qnn/runtime/ops/window_attrs.hpp"

namespace qnn::backends::npu {

class Emulator {
 public:
  static constexpr std::string_view name = "npu-emu";

  // A node prepared for the emulated NPU: its kernel, run on the calling thread.
  class Kernel final : public OpKernel {
   public:
    explicit Kernel(std::unique_ptr<OpKernel> body) : body_(std::move(body)) {}
    void run(KernelContext& ctx) const override { body_->run(ctx); }
    std::int64_t macs(const KernelContext& ctx) const override { return body_->macs(ctx); }

   private:
    std::unique_ptr<OpKernel> body_;
  };
  using Ticket = ReadyTicket;

  Support supports(const NodeInfo& info) const { return check_layer(info); }

  std::unique_ptr<Kernel> prepare(const NodeInfo& info) const {
    const Node& n = info.node();
    std::unique_ptr<OpKernel> body = with_context(n.where(), [&] { return make_body(info); });
    const auto unused = n.attrs.unused();
    check(unused.empty(), n.where(), ": attribute '", unused.empty() ? "" : unused.front(), "' is not supported");
    return std::make_unique<Kernel>(std::move(body));
  }

  void run(const Kernel& k, KernelContext& ctx) const { k.run(ctx); }
  Ticket submit(const Kernel& k, KernelContext& ctx) const {
    k.run(ctx);
    return {};
  }
  void wait(Ticket&) const {}

 private:
  static std::unique_ptr<OpKernel> make_body(const NodeInfo& info) {
    const Node& n = info.node();
    const std::string& t = n.op_type;
    (void)info.attrs().get_string("qnn_requant", "npu-pow2");  // checked by check_layer
    if (n.domain == "com.microsoft" && (t == "QLinearAveragePool" || t == "QLinearGlobalAveragePool"))
      return make_avg_pool(info, t == "QLinearGlobalAveragePool");
    if (n.domain == "com.microsoft" && t == "QLinearSigmoid") return make_activation(info, "sigmoid");
    if (n.domain == "com.microsoft" && t == "QLinearLeakyRelu") return make_activation(info, "leaky_relu");
    if (n.domain == "qnn" && t == "QLinearUnary") return make_activation(info, info.attrs().get_string("activation"));
    // The DPU's arithmetic is qnn's npu_pow2 policy: the built-in kernels under that policy.
    SessionOptions o = info.options();
    o.requant = RequantPolicy::npu_pow2;
    return builtin_registry().make(NodeInfo(n, info.graph(), o, info.registry()));
  }

  static std::unique_ptr<OpKernel> make_avg_pool(const NodeInfo& info, bool global) {
    const ops::quant::ScaleZp xq = ops::quant::constant_per_tensor(info, 1, 2, 0, "x_scale/x_zero_point");
    (void)ops::quant::constant_per_tensor(info, 3, 4, 0, "y_scale/y_zero_point");  // aligned with x (check_layer)
    check(info.attrs().get_int("channels_last", 0) == 0, "channels_last = 1 (NHWC) is not supported");
    ops::WindowAttrs attrs;
    std::array<std::int64_t, 2> hw{0, 0};
    std::array<std::int64_t, 2> k{0, 0};
    if (global) {
      const auto d = info.input_dims(0);
      check(d && d->size() == 4, "the input must be 4-D with a known H and W");
      hw = {(*d)[2], (*d)[3]};
      k = hw;
    } else {
      const auto d = info.input_dims(0);
      attrs = ops::WindowAttrs::read(info.attrs(), d ? static_cast<int>(d->size()) - 2 : 0, true);
      (void)info.attrs().get_int("count_include_pad", 0);  // padding adds zeros either way (check_layer)
      k = attrs.kernel;
    }
    const auto f = avg_pool_factor(k[0], k[1]);
    check(f.has_value(), "no NPU averaging factor for a ", k[0], "x", k[1], " window");
    return ops::quant::visit_int8_dtype(xq.dtype, "x", [&](auto tag) -> std::unique_ptr<OpKernel> {
      using T = decltype(tag);
      return std::make_unique<DpuAvgPoolKernel<T>>(attrs, global, hw, *f, xq.zero_point());
    });
  }

  static std::unique_ptr<OpKernel> make_activation(const NodeInfo& info, const std::string& kind) {
    const ops::quant::ScaleZp xq = ops::quant::constant_per_tensor(info, 1, 2, 0, "X_scale/X_zero_point");
    const ops::quant::ScaleZp yq = ops::quant::constant_per_tensor(info, 3, 4, 0, "Y_scale/Y_zero_point");
    check(xq.dtype == yq.dtype, "X (", xq.dtype, ") and Y (", yq.dtype, ") must share one type");
    const int ip = to_pow2(xq.scale()).pos;
    const int op = to_pow2(yq.scale()).pos;
    const Attributes& at = info.attrs();
    const float inf = std::numeric_limits<float>::infinity();
    std::function<std::int64_t(std::int64_t)> rule;
    ActivationClamp clamp;
    if (kind == "relu") {
      rule = [=](std::int64_t v) { return dpu_shift(std::max<std::int64_t>(v, 0), ip - op); };
    } else if (kind == "clip") {
      clamp = ActivationClamp::clip(at.get_float("clip_min", -inf), at.get_float("clip_max", inf));
      rule = [=](std::int64_t v) { return dpu_shift(v, ip - op); };
    } else if (kind == "leaky_relu") {
      const std::int64_t k = leaky_relu_slope(at.get_float("alpha", 0.01f));
      rule = [=](std::int64_t v) { return dpu_leaky_relu(v, k, ip, op); };
    } else if (kind == "sigmoid" || kind == "hard_sigmoid") {
      if (kind == "hard_sigmoid") (void)at.get_float("alpha", 0.2f), (void)at.get_float("beta", 0.5f);
      rule = [=](std::int64_t v) { return dpu_hard_sigmoid(v, ip, op); };
    } else {
      fail("activation '", kind, "' has no NPU emulation");
    }
    return ops::quant::visit_int8_dtype(xq.dtype, "X", [&](auto tag) -> std::unique_ptr<OpKernel> {
      using T = decltype(tag);
      const IntRange r = output_range<T>(clamp, yq.scale(), yq.zero_point());
      return std::make_unique<DpuActivationKernel<T>>(rule, xq.zero_point(), yq.zero_point(), r.lo, r.hi);
    });
  }
};

static_assert(Backend<Emulator>);

}  // namespace qnn::backends::npu
