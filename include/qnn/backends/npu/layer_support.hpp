// Which nodes of a prepared (QDQ-lowered) graph the NPU takes, and the exact reason for each one it
// does not: the NPU layer-support table and the XINT8 fixed-point constraints as one function,
// npu::check_layer(info). The NPU emulator's supports() is this function; an XRT backend adds its
// kernel catalogue on top of it.
//
// Sources:
//   table  Vitis AI NPU IP, "Bring your own model" — Layer Support (/work/shared/seeds/003):
//          Max/Avg Pooling 2D: window W×H ≤ 2048; MaxPool kernels 2x1, 1x2, 3x1, 1x3 not supported;
//          pooling that excludes padding from the divisor not supported. Padding: value 0 (the zero
//          point), at most 15 pixels on every edge — applied here to Pad and to the implicit pads of
//          Conv and pooling windows (an assumption on the safe side: it can only move a node to the
//          CPU). Conv2d: all strides; depthwise, dilated, grouped: no limitation. FC: yes. Concat,
//          Crop (Slice with unit steps), BatchNorm / constant Mul and Add, element-wise Add: yes;
//          element-wise Mul: yes with a W×H×1 operand, a 1×1×C run-time operand is APU-only.
//          Deconvolution, Depth-to-Space, L2Norm, Square, 3-D pooling: APU-only. Activations
//          other than those below are "approximations with 16 intervals" whose breakpoints are not
//          public: the emulator cannot reproduce them bit for bit and leaves them on the CPU.
//   XINT8  AMD Quark, quark/onnx/postprocess/refinement/refine.py (NPULimitationCheck), for
//          positions pos = −log2(scale): shift_cut = wpos + ipos − opos ∈ [0, 16] (Conv, Gemm);
//          shift_read = max(ipos) − min(ipos) ≤ 7 (Add); shift_write = min(ipos) − opos ∈ [−7, 25]
//          (Add), Σipos − opos ∈ [0, 32] (Mul); shift_swish = ipos0 + ipos1 − opos ∈ [0, 15] (the
//          Mul of x·hsigmoid(x)); HardSigmoid: ipos ∈ [0, 15], opos ≥ 7, 14 + ipos − opos ∈ [0, 31];
//          align_concat, align_pool, align_pad, align_slice: input and output share one position.
//          quark/onnx/quantizers/npu_cnn_quantizer.py: activations symmetric (int8 zp 0, stored as
//          uint8 zp 128), weights int8 symmetric per tensor, all scales powers of two.
//          Biases: qnn's XINT8 stores them as int32 at the accumulator scale (quantize/xint8.hpp),
//          Quark's Int32Bias option, so shift_bias = wpos + ipos − bpos = 0 always holds.
//
// Inputs the NPU never computes on are host work by definition: QuantizeLinear of the float model
// input and DequantizeLinear of its output (the table: "a quantize operation ... executed on the
// APU"), and any node left in float32 because the quantizer did not cover it.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "qnn/backends/backend.hpp"
#include "qnn/backends/npu/dpu_arith.hpp"
#include "qnn/core/dtype.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/quant_params_io.hpp"
#include "qnn/runtime/ops/window_attrs.hpp"

namespace qnn::backends::npu {

// The layer-support table's numbers.
struct LayerLimits {
  static constexpr std::int64_t max_pool_window = 2048;  // kernel W×H of max and average pooling
  static constexpr std::int64_t max_padding = 15;        // pixels on each edge
  static constexpr std::int64_t max_avg_pool_side = 255;  // Quark simulates no DPU factor beyond
};

// XINT8's shift ranges (Quark refine.py).
struct ShiftLimits {
  static constexpr int shift_cut_min = 0, shift_cut_max = 16;
  static constexpr int shift_read_max = 7;
  static constexpr int add_write_min = -7, add_write_max = 25;
  static constexpr int mul_write_min = 0, mul_write_max = 32;
  static constexpr int swish_min = 0, swish_max = 15;
  static constexpr int hsigmoid_ipos_min = 0, hsigmoid_ipos_max = 15, hsigmoid_opos_min = 7;
  static constexpr int hsigmoid_shift_min = 0, hsigmoid_shift_max = 31;
};

// The quantization of one activation tensor as the NPU sees it.
struct ActQuant {
  DType dtype = DType::u8;
  std::int32_t zero_point = 128;
  float scale = 1;
  int pos = 0;
};

namespace detail {

// Attribute reads that are not recorded as uses (supports() must leave the node as it found it).
inline std::int64_t attr_int(const Node& n, const std::string& name, std::int64_t def) {
  const auto* v = n.attrs.peek<std::int64_t>(name);
  return v ? *v : def;
}
inline float attr_float(const Node& n, const std::string& name, float def) {
  const auto* v = n.attrs.peek<float>(name);
  return v ? *v : def;
}
inline std::string attr_string(const Node& n, const std::string& name, const std::string& def) {
  const auto* v = n.attrs.peek<std::string>(name);
  return v ? *v : def;
}
inline std::optional<std::string> unknown_attr(const Node& n, std::initializer_list<const char*> known) {
  for (const auto& attr : n.attrs.all()) {
    const std::string& name = attr.first;
    if (std::find_if(known.begin(), known.end(), [&](const char* k) { return name == k; }) == known.end()) return name;
  }
  return std::nullopt;
}

inline std::string dims_text(const std::optional<std::vector<std::int64_t>>& d) {
  if (!d) return "[?]";
  std::string s = "[";
  for (std::size_t i = 0; i < d->size(); ++i) {
    if (i) s.push_back(',');
    s.append((*d)[i] == kDynamicDim ? std::string("N") : std::to_string((*d)[i]));
  }
  s.push_back(']');
  return s;
}

inline Support int16_reason(const char* what, DType t) {
  return Support::no(what, " is ", t, " (A16W8): the NPU's INT8 path takes 8-bit activations");
}

// The activation quantization of inputs (scale_i, zp_i), or why the NPU cannot take it.
inline std::optional<ActQuant> activation_quant(const NodeInfo& info, std::size_t scale_i, std::size_t zp_i,
                                                const char* what, Support& why) {
  const Tensor* s = info.constant_input(scale_i);
  if (!s || s->dtype() != DType::f32) {
    why = Support::no(what, ": the scale is not a constant float32");
    return std::nullopt;
  }
  if (s->numel() != 1) {
    why = Support::no(what, ": ", s->numel(), " scales; NPU activations are quantized per tensor");
    return std::nullopt;
  }
  const Tensor* z = info.has_input(zp_i) ? info.constant_input(zp_i) : nullptr;
  if (info.has_input(zp_i) && (!z || z->numel() != 1 || !is_quantized_storage(z->dtype()))) {
    why = Support::no(what, ": the zero point is not one constant integer");
    return std::nullopt;
  }
  ActQuant q;
  q.dtype = z ? z->dtype() : DType::u8;
  q.zero_point = z ? ops::quant::int_values(TensorRef::of(*z))[0] : 0;
  q.scale = s->span<float>()[0];
  if (q.dtype == DType::i16 || q.dtype == DType::u16) {
    why = int16_reason(what, q.dtype);
    return std::nullopt;
  }
  if ((q.dtype == DType::i8 && q.zero_point != 0) || (q.dtype == DType::u8 && q.zero_point != 128)) {
    why = Support::no(what, ": ", q.dtype, " zero point ", q.zero_point,
                      "; NPU activations are symmetric (int8 zero point 0, or XINT8's uint8 zero point 128)");
    return std::nullopt;
  }
  const auto pos = position_of(q.scale);
  if (!pos) {
    why = Support::no(what, ": scale ", q.scale, " is not a power of two (XINT8 scales are 2^-pos)");
    return std::nullopt;
  }
  q.pos = *pos;
  return q;
}

// The position of constant int8 symmetric per-tensor weights (w_i, scale_i, zp_i).
inline std::optional<int> weight_pos(const NodeInfo& info, std::size_t w_i, std::size_t scale_i, std::size_t zp_i,
                                     Support& why) {
  const Tensor* w = info.constant_input(w_i);
  if (!w) {
    why = Support::no("the weights are a run-time tensor; the NPU runs Conv and FC layers with constant weights");
    return std::nullopt;
  }
  if (w->dtype() != DType::i8) {
    why = Support::no("weights are ", w->dtype(), "; the NPU takes int8 weights (XINT8)");
    return std::nullopt;
  }
  const Tensor* s = info.constant_input(scale_i);
  if (!s || s->dtype() != DType::f32) {
    why = Support::no("the weight scale is not a constant float32");
    return std::nullopt;
  }
  if (s->numel() != 1) {
    why = Support::no("per-channel weight quantization (", s->numel(),
                      " scales); XINT8 quantizes weights per tensor");
    return std::nullopt;
  }
  if (info.has_input(zp_i)) {
    const Tensor* z = info.constant_input(zp_i);
    const std::int32_t zp = z && z->numel() == 1 ? ops::quant::int_values(TensorRef::of(*z))[0] : 1;
    if (zp != 0) {
      why = Support::no("weight zero point ", zp, "; NPU weights are symmetric (zero point 0)");
      return std::nullopt;
    }
  }
  const float scale = s->span<float>()[0];
  const auto pos = position_of(scale);
  if (!pos) {
    why = Support::no("weight scale ", scale, " is not a power of two (XINT8 scales are 2^-pos)");
    return std::nullopt;
  }
  return pos;
}

inline Support policy_rule(const Node& n) {
  const std::string p = attr_string(n, "qnn_requant", "npu-pow2");
  if (p != "npu-pow2")
    return Support::no("qnn_requant = ", p, "; the NPU requantizes with power-of-two shifts (npu-pow2)");
  return Support::yes();
}

inline Support shift_cut_rule(int ipos, int wpos, int opos) {
  const int cut = wpos + ipos - opos;
  if (cut < ShiftLimits::shift_cut_min || cut > ShiftLimits::shift_cut_max)
    return Support::no("shift_cut = wpos + ipos - opos = ", wpos, " + ", ipos, " - ", opos, " = ", cut,
                       " is outside the NPU's range [", ShiftLimits::shift_cut_min, ", ", ShiftLimits::shift_cut_max,
                       "]");
  return Support::yes();
}

inline Support padding_rule(const char* op, const Window2D& w) {
  const auto& p = w.pads;
  if (*std::max_element(p.begin(), p.end()) > LayerLimits::max_padding)
    return Support::no(op, " padding (top ", p[0], ", left ", p[1], ", bottom ", p[2], ", right ", p[3],
                       ") exceeds the NPU limit of ", LayerLimits::max_padding, " pixels per edge");
  return Support::yes();
}

// The window of a conv or pooling node, resolved like the CPU kernel does (1-D as 1×L).
inline std::optional<std::pair<ops::WindowAttrs, Window2D>> window_of(const NodeInfo& info, bool pooling,
                                                                      std::array<std::int64_t, 2> kernel_hw,
                                                                      Support& why) {
  const auto dims = info.input_dims(0);
  const int spatial = dims ? static_cast<int>(dims->size()) - 2 : 0;
  try {
    const Attributes copy = info.node().attrs;  // reads on a copy are not recorded on the node
    const ops::WindowAttrs a = ops::WindowAttrs::read(copy, spatial, pooling);
    std::int64_t h = 1, w = 1;
    const bool same = a.auto_pad == ops::AutoPad::same_upper || a.auto_pad == ops::AutoPad::same_lower;
    if (same && (a.strides[0] > 1 || a.strides[1] > 1)) {
      const bool known = dims && dims->size() >= 3 && dims->back() > 0 && (*dims)[dims->size() - 2] > 0;
      if (!known) {
        why = Support::no("auto_pad SAME with a stride above 1 and an input size unknown when the session is "
                          "prepared: the padding cannot be checked against the NPU's limit");
        return std::nullopt;
      }
      w = dims->back();
      h = a.spatial == 2 ? (*dims)[dims->size() - 2] : 1;
    }
    return std::make_pair(a, a.resolve(h, w, kernel_hw));
  } catch (const error& e) {
    why = Support::no("the window attributes are invalid: ", e.what());
    return std::nullopt;
  }
}

inline bool is_int8(std::optional<DType> t) { return t && (*t == DType::u8 || *t == DType::i8); }

// Why a node whose data input has element type `t` is not an INT8 layer (empty when it is).
inline std::optional<Support> data_type_rule(const Node& n, std::optional<DType> t) {
  if (is_int8(t)) return std::nullopt;
  if (!t) return Support::no(n.op_type, ": the element type of the input is unknown when the session is prepared");
  if (*t == DType::i16 || *t == DType::u16) return int16_reason("the input", *t);
  if (*t == DType::f32 || *t == DType::bf16)
    return Support::no(n.op_type, " on ", *t,
                       " data: only quantized (INT8) layers run on the NPU, and this node was not quantized");
  return Support::no(n.op_type, " on ", *t, " data: not an INT8 layer");
}

}  // namespace detail

// ---- the rules, operator by operator --------------------------------------------------------------

inline Support check_conv(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", "qnn_activation",
                                "qnn_clip_min", "qnn_clip_max", "qnn_requant"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (Support p = policy_rule(n); !p) return p;
  Support why;
  const auto x = activation_quant(info, 1, 2, "x", why);
  if (!x) return why;
  const auto wpos = weight_pos(info, 3, 4, 5, why);
  if (!wpos) return why;
  const auto y = activation_quant(info, 6, 7, "y", why);
  if (!y) return why;
  if (Support s = shift_cut_rule(x->pos, *wpos, y->pos); !s) return s;
  const Shape& ws = info.constant_input(3)->shape();
  if (ws.rank() != 3 && ws.rank() != 4) return Support::no("a ", ws.rank() - 2, "-D convolution (weights ", ws, ")");
  const auto win = window_of(info, false, {ws.rank() == 4 ? ws[2] : 1, ws[ws.rank() - 1]}, why);
  if (!win) return why;
  return padding_rule("Conv", win->second);
}

// com.microsoft.QGemm: an FC layer.
inline Support check_gemm(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"alpha", "transA", "transB", "qnn_activation", "qnn_clip_min", "qnn_clip_max",
                                "qnn_requant"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (Support p = policy_rule(n); !p) return p;
  if (const float alpha = attr_float(n, "alpha", 1.0f); alpha != 1.0f)
    return Support::no("alpha = ", alpha, "; the NPU's FC layer has no output factor");
  if (attr_int(n, "transA", 0) != 0) return Support::no("transA = 1; the NPU's FC layer reads activations row by row");
  if (!info.has_input(7) || !info.has_input(8))
    return Support::no("float output (no y_scale/y_zero_point); the NPU's INT8 FC layer writes INT8");
  Support why;
  const auto a = activation_quant(info, 1, 2, "A", why);
  if (!a) return why;
  const auto wpos = weight_pos(info, 3, 4, 5, why);
  if (!wpos) return why;
  const auto y = activation_quant(info, 7, 8, "Y", why);
  if (!y) return why;
  return shift_cut_rule(a->pos, *wpos, y->pos);
}

// QLinearMatMul with constant 2-D weights is an FC layer; a product of two activations is not.
inline Support check_matmul(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"qnn_activation", "qnn_clip_min", "qnn_clip_max", "qnn_requant"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (Support p = policy_rule(n); !p) return p;
  const Tensor* b = info.constant_input(3);
  if (!b) return Support::no("MatMul of two run-time tensors; the NPU's FC layer needs constant weights");
  if (b->shape().rank() != 2) return Support::no("MatMul weights of shape ", b->shape(), "; the NPU's FC layer takes 2-D weights");
  Support why;
  const auto a = activation_quant(info, 1, 2, "a", why);
  if (!a) return why;
  const auto wpos = weight_pos(info, 3, 4, 5, why);
  if (!wpos) return why;
  const auto y = activation_quant(info, 6, 7, "y", why);
  if (!y) return why;
  return shift_cut_rule(a->pos, *wpos, y->pos);
}

// Whether a value is read by a hard sigmoid (QLinearSigmoid, or QLinearUnary hard_sigmoid with
// alpha 1/6, beta 1/2): the other factor of Mul(x, hsigmoid(x)) — a swish.
inline bool feeds_hard_sigmoid(const Graph& g, const std::string& value) {
  for (const Node& m : g.nodes) {
    if (m.inputs.empty() || m.inputs[0] != value) continue;
    if (m.domain == "com.microsoft" && m.op_type == "QLinearSigmoid") return true;
    if (m.domain == "qnn" && m.op_type == "QLinearUnary") {
      const std::string act = detail::attr_string(m, "activation", "");
      if (act == "sigmoid") return true;
      if (act == "hard_sigmoid" && std::fabs(detail::attr_float(m, "alpha", 0.2f) - 1.0f / 6.0f) < 1e-6f &&
          std::fabs(detail::attr_float(m, "beta", 0.5f) - 0.5f) < 1e-6f)
        return true;
    }
  }
  return false;
}

// com.microsoft.QLinearAdd / QLinearMul.
inline Support check_eltwise(const NodeInfo& info, bool add) {
  using namespace detail;
  const Node& n = info.node();
  const char* op = add ? "Add" : "Mul";
  if (auto a = unknown_attr(n, {"qnn_requant"})) return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (Support p = policy_rule(n); !p) return p;
  Support why;
  const auto a = activation_quant(info, 1, 2, "A", why);
  if (!a) return why;
  const auto b = activation_quant(info, 4, 5, "B", why);
  if (!b) return why;
  const auto c = activation_quant(info, 6, 7, "C", why);
  if (!c) return why;
  if (a->dtype != b->dtype || a->dtype != c->dtype) return Support::no("A, B and C differ in type");
  // Shapes: equal, or one operand a constant (the table's "Const Mul/Add"), or for Mul a W×H×1
  // run-time operand.
  const bool constant = info.constant_input(0) || info.constant_input(3);
  const auto da = info.input_dims(0), db = info.input_dims(3);
  if (!constant && !(da && db && *da == *db && std::find(da->begin(), da->end(), kDynamicDim) == da->end())) {
    if (!da || !db)
      return Support::no(op, " operand shapes unknown when the session is prepared");
    const bool same_rank4 = da->size() == 4 && db->size() == 4;
    auto matches_except_c = [&](const std::vector<std::int64_t>& big, const std::vector<std::int64_t>& small) {
      return small[1] == 1 && small[2] == big[2] && small[3] == big[3];
    };
    auto per_channel = [&](const std::vector<std::int64_t>& big, const std::vector<std::int64_t>& small) {
      return small[1] == big[1] && small[2] == 1 && small[3] == 1;
    };
    const bool equal_shapes = *da == *db;
    if (!equal_shapes) {
      if (add || !same_rank4)
        return Support::no("broadcast ", op, " of run-time tensors ", dims_text(da), " and ", dims_text(db),
                           " is not in the NPU layer-support table (equal shapes, or a constant operand)");
      if (per_channel(*da, *db) || per_channel(*db, *da))
        return Support::no("Mul by a 1x1xC run-time tensor (", dims_text(da), " * ", dims_text(db),
                           ") is APU-only on the NPU");
      if (!matches_except_c(*da, *db) && !matches_except_c(*db, *da))
        return Support::no("broadcast Mul of ", dims_text(da), " and ", dims_text(db),
                           " is not in the NPU layer-support table (equal shapes, a WxHx1 operand, or a constant)");
    }
  }
  if (add) {
    const int read = std::max(a->pos, b->pos) - std::min(a->pos, b->pos);
    if (read > ShiftLimits::shift_read_max)
      return Support::no("shift_read = max(ipos) - min(ipos) = ", std::max(a->pos, b->pos), " - ",
                         std::min(a->pos, b->pos), " = ", read, " exceeds the NPU's limit ", ShiftLimits::shift_read_max);
    const int write = std::min(a->pos, b->pos) - c->pos;
    if (write < ShiftLimits::add_write_min || write > ShiftLimits::add_write_max)
      return Support::no("shift_write = min(ipos) - opos = ", std::min(a->pos, b->pos), " - ", c->pos, " = ", write,
                         " is outside the NPU's range [", ShiftLimits::add_write_min, ", ", ShiftLimits::add_write_max,
                         "]");
    return Support::yes();
  }
  const int write = a->pos + b->pos - c->pos;
  if (write < ShiftLimits::mul_write_min || write > ShiftLimits::mul_write_max)
    return Support::no("shift_write = ipos0 + ipos1 - opos = ", a->pos, " + ", b->pos, " - ", c->pos, " = ", write,
                       " is outside the NPU's range [", ShiftLimits::mul_write_min, ", ", ShiftLimits::mul_write_max, "]");
  if (feeds_hard_sigmoid(info.graph(), n.inputs[0]) || feeds_hard_sigmoid(info.graph(), n.inputs[3]))
    if (write < ShiftLimits::swish_min || write > ShiftLimits::swish_max)
      return Support::no("shift_swish = ipos0 + ipos1 - opos = ", write, " is outside the NPU's range [",
                         ShiftLimits::swish_min, ", ", ShiftLimits::swish_max, "] for the Mul of a swish");
  return Support::yes();
}

// com.microsoft.QLinearConcat: every input at the output's position and zero point (align_concat).
inline Support check_concat(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"axis", "qnn_requant"})) return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (Support p = policy_rule(n); !p) return p;
  if (n.inputs.size() < 5 || (n.inputs.size() - 2) % 3 != 0) return Support::no("malformed QLinearConcat inputs");
  Support why;
  const auto y = activation_quant(info, 0, 1, "Y", why);
  if (!y) return why;
  for (std::size_t i = 2, k = 0; i < n.inputs.size(); i += 3, ++k) {
    const auto x = activation_quant(info, i + 1, i + 2, "a concatenated input", why);
    if (!x) return why;
    if (x->pos != y->pos || x->dtype != y->dtype || x->zero_point != y->zero_point)
      return Support::no("align_concat: input ", k, " has position ", x->pos, ", the output ", y->pos,
                         "; the NPU concatenates at one position");
  }
  return Support::yes();
}

// MaxPool on INT8 data (the QDQ lowering keeps it on the integers).
inline Support check_max_pool(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto s = data_type_rule(n, info.input_dtype(0))) return *s;
  if (auto a = unknown_attr(n, {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) return Support::no("MaxPool with an Indices output");
  Support why;
  const auto win = window_of(info, true, {0, 0}, why);
  if (!win) return why;
  const Window2D& w = win->second;
  if (w.dilations[0] != 1 || w.dilations[1] != 1)
    return Support::no("dilated MaxPool (dilations ", w.dilations[0], "x", w.dilations[1],
                       ") is not in the NPU layer-support table");
  const std::int64_t kh = w.kernel[0], kw = w.kernel[1];
  if ((kh == 2 && kw == 1) || (kh == 1 && kw == 2) || (kh == 3 && kw == 1) || (kh == 1 && kw == 3))
    return Support::no("MaxPool kernel ", kh, "x", kw, " is not supported by the NPU (kernels 2x1, 1x2, 3x1 and 1x3)");
  if (kh * kw > LayerLimits::max_pool_window)
    return Support::no("MaxPool kernel ", kh, "x", kw, " (", kh * kw, " taps) exceeds the NPU limit of W x H <= ",
                       LayerLimits::max_pool_window);
  return padding_rule("MaxPool", w);
}

// The DPU factor of a kh×kw average, or why there is none.
inline Support avg_window_rule(const char* op, std::int64_t kh, std::int64_t kw) {
  if (kh * kw > LayerLimits::max_pool_window)
    return Support::no(op, " window ", kh, "x", kw, " (", kh * kw, " taps) exceeds the NPU limit of W x H <= ",
                       LayerLimits::max_pool_window);
  if (kh != kw)
    return Support::no("non-square ", op, " window ", kh, "x", kw,
                       ": the NPU's averaging factor k/2^n is defined for square windows only");
  if (kh > LayerLimits::max_avg_pool_side)
    return Support::no(op, " window side ", kh, " exceeds ", LayerLimits::max_avg_pool_side,
                       ": the NPU's averaging factor is not defined there");
  return Support::yes();
}

inline Support align_pool_rule(const ActQuant& x, const ActQuant& y) {
  if (x.pos != y.pos || x.dtype != y.dtype || x.zero_point != y.zero_point)
    return Support::no("align_pool: input position ", x.pos, " differs from output position ", y.pos,
                       "; the NPU pools at one position");
  return Support::yes();
}

// com.microsoft.QLinearAveragePool.
inline Support check_avg_pool(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides",
                                "channels_last", "qnn_requant"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (attr_int(n, "channels_last", 0) != 0) return Support::no("channels_last = 1 (NHWC)");
  if (Support p = policy_rule(n); !p) return p;
  Support why;
  const auto x = activation_quant(info, 1, 2, "x", why);
  if (!x) return why;
  const auto y = activation_quant(info, 3, 4, "y", why);
  if (!y) return why;
  if (Support s = align_pool_rule(*x, *y); !s) return s;
  const auto win = window_of(info, true, {0, 0}, why);
  if (!win) return why;
  const Window2D& w = win->second;
  if (Support s = avg_window_rule("AveragePool", w.kernel[0], w.kernel[1]); !s) return s;
  if (Support s = padding_rule("AveragePool", w); !s) return s;
  const bool padded = std::any_of(w.pads.begin(), w.pads.end(), [](std::int64_t p) { return p > 0; });
  if (padded && attr_int(n, "count_include_pad", 0) == 0)
    return Support::no("AveragePool with padding excluded from the divisor (count_include_pad = 0): the NPU does "
                       "not support excluding padding");
  if (win->first.ceil_mode) {
    const auto d = info.input_dims(0);
    if (!d || d->size() != 4 || (*d)[2] <= 0 || (*d)[3] <= 0)
      return Support::no("ceil_mode = 1 with an input size unknown when the session is prepared");
    for (int a = 0; a < 2; ++a) {
      const auto u = static_cast<std::size_t>(a);
      const std::int64_t in = (*d)[2 + u];
      const std::int64_t out = qnn::detail::output_extent(in, w.kernel[u], w.strides[u], 1, w.pads[u], w.pads[u + 2], true);
      if ((out - 1) * w.strides[u] + w.kernel[u] > in + w.pads[u] + w.pads[u + 2])
        return Support::no("ceil_mode = 1: the last window extends past the padded input, which the NPU does not "
                           "average");
    }
  }
  return Support::yes();
}

// com.microsoft.QLinearGlobalAveragePool.
inline Support check_global_avg_pool(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"channels_last", "qnn_requant"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (attr_int(n, "channels_last", 0) != 0) return Support::no("channels_last = 1 (NHWC)");
  if (Support p = policy_rule(n); !p) return p;
  Support why;
  const auto x = activation_quant(info, 1, 2, "x", why);
  if (!x) return why;
  const auto y = activation_quant(info, 3, 4, "y", why);
  if (!y) return why;
  if (Support s = align_pool_rule(*x, *y); !s) return s;
  const auto d = info.input_dims(0);
  if (!d || d->size() != 4 || (*d)[2] <= 0 || (*d)[3] <= 0)
    return Support::no("GlobalAveragePool over ", dims_text(d),
                       ": the NPU needs a 4-D input whose H and W are known when the session is prepared");
  return avg_window_rule("GlobalAveragePool", (*d)[2], (*d)[3]);
}

// The hard-sigmoid position rules (the NPU's Sigmoid and HardSigmoid).
inline Support hard_sigmoid_rule(const ActQuant& x, const ActQuant& y) {
  const int shift = kHardSigmoidShift + x.pos - y.pos;
  if (x.pos < ShiftLimits::hsigmoid_ipos_min || x.pos > ShiftLimits::hsigmoid_ipos_max)
    return Support::no("hard sigmoid input position ", x.pos, " is outside the NPU's range [",
                       ShiftLimits::hsigmoid_ipos_min, ", ", ShiftLimits::hsigmoid_ipos_max, "]");
  if (y.pos < ShiftLimits::hsigmoid_opos_min)
    return Support::no("hard sigmoid output position ", y.pos, " is below the NPU's minimum ",
                       ShiftLimits::hsigmoid_opos_min);
  if (shift < ShiftLimits::hsigmoid_shift_min || shift > ShiftLimits::hsigmoid_shift_max)
    return Support::no("shift_sigmoid = 14 + ipos - opos = ", shift, " is outside the NPU's range [",
                       ShiftLimits::hsigmoid_shift_min, ", ", ShiftLimits::hsigmoid_shift_max, "]");
  return Support::yes();
}

// Quantized activations: com.microsoft.QLinearSigmoid / QLinearLeakyRelu and qnn.QLinearUnary.
// `kind`: relu, clip, leaky_relu, sigmoid, hard_sigmoid, hard_swish, tanh.
inline Support check_activation(const NodeInfo& info, const std::string& kind) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"activation", "alpha", "beta", "clip_min", "clip_max", "qnn_requant"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (kind == "hard_swish" || kind == "tanh")
    return Support::no(kind == "tanh" ? "Tanh" : "HardSwish",
                       " runs on the NPU as an approximation with up to 16 intervals whose breakpoints are not "
                       "published; the emulator cannot reproduce it bit for bit");
  if (kind != "relu" && kind != "clip" && kind != "leaky_relu" && kind != "sigmoid" && kind != "hard_sigmoid")
    return Support::no("activation '", kind, "' is not in the NPU layer-support table");
  Support why;
  const auto x = activation_quant(info, 1, 2, "X", why);
  if (!x) return why;
  const auto y = activation_quant(info, 3, 4, "Y", why);
  if (!y) return why;
  if (x->dtype != y->dtype) return Support::no("X (", x->dtype, ") and Y (", y->dtype, ") differ in type");
  if (kind == "hard_sigmoid") {
    const float alpha = attr_float(n, "alpha", 0.2f), beta = attr_float(n, "beta", 0.5f);
    if (std::fabs(alpha - 1.0f / 6.0f) >= 1e-6f || std::fabs(beta - 0.5f) >= 1e-6f)
      return Support::no("HardSigmoid alpha ", alpha, ", beta ", beta,
                         ": the NPU computes relu6(x + 3) * 2731/16384 (alpha 1/6, beta 0.5) only");
  }
  if (kind == "sigmoid" || kind == "hard_sigmoid") return hard_sigmoid_rule(*x, *y);
  return Support::yes();
}

// Data movement on INT8 tensors with static parameters: Reshape, Flatten, Squeeze, Unsqueeze,
// Identity, and Slice with unit steps (the table's Crop).
inline Support check_layout(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto s = data_type_rule(n, info.input_dtype(0))) return *s;
  for (std::size_t i = 1; i < n.inputs.size(); ++i)
    if (info.has_input(i) && !info.constant_input(i))
      return Support::no(n.op_type, " with a run-time input ", i, "; the NPU needs static shapes");
  if (n.op_type == "Slice" && info.has_input(4)) {
    const Tensor* steps = info.constant_input(4);
    for (std::int64_t i = 0; i < steps->numel(); ++i) {
      const std::int64_t s = steps->dtype() == DType::i64 ? steps->span<std::int64_t>()[static_cast<std::size_t>(i)]
                                                          : steps->span<std::int32_t>()[static_cast<std::size_t>(i)];
      if (s != 1) return Support::no("Slice with step ", s, "; the NPU crops with unit steps only");
    }
  }
  return Support::yes();
}

// The whole table: whether the NPU runs this node, and if not, why.
inline Support check_layer(const NodeInfo& info) {
  const Node& n = info.node();
  const std::string& t = n.op_type;
  if (n.domain.empty()) {
    if (t == "QLinearConv") return check_conv(info);
    if (t == "QLinearMatMul") return check_matmul(info);
    if (t == "MaxPool") return check_max_pool(info);
    if (t == "Reshape" || t == "Flatten" || t == "Squeeze" || t == "Unsqueeze" || t == "Identity" || t == "Slice")
      return check_layout(info);
    if (t == "QuantizeLinear")
      return Support::no("quantizes float data: the NPU computes on INT8 tensors, the model input is quantized on the "
                         "host");
    if (t == "DequantizeLinear")
      return Support::no("produces float data: the NPU writes INT8 tensors, dequantizing runs on the host");
    if (t == "Pad")
      return Support::no("Pad outside a quantized unit (qnn's QDQ lowering keeps Pad in float32)");
    if (t == "ConvTranspose") return Support::no("Deconvolution is APU-only on the NPU");
    if (t == "DepthToSpace") return Support::no("Depth-to-Space is APU-only on the NPU");
    if (t == "Transpose" || t == "Gather")
      return Support::no(t, " is not in the NPU layer-support table");
  } else if (n.domain == "com.microsoft") {
    if (t == "QGemm") return check_gemm(info);
    if (t == "QLinearAdd") return check_eltwise(info, true);
    if (t == "QLinearMul") return check_eltwise(info, false);
    if (t == "QLinearConcat") return check_concat(info);
    if (t == "QLinearAveragePool") return check_avg_pool(info);
    if (t == "QLinearGlobalAveragePool") return check_global_avg_pool(info);
    if (t == "QLinearSigmoid") return check_activation(info, "sigmoid");
    if (t == "QLinearLeakyRelu") return check_activation(info, "leaky_relu");
  } else if (n.domain == "qnn" && t == "QLinearUnary") {
    return check_activation(info, detail::attr_string(n, "activation", ""));
  }
  if (auto s = detail::data_type_rule(n, info.input_dtype(0))) return *s;
  return Support::no("operator ", n.domain.empty() ? "" : n.domain + ".", t, " is not in the NPU layer-support table");
}

}  // namespace qnn::backends::npu
