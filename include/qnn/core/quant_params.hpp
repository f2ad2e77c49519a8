// Quantization parameters, as types and as runtime values.
//
// real = scale · (q − zero_point). Three choices describe a scheme, and each is part of the type:
//   granularity  PerTensor, or PerChannel along an axis (one scale and zero point per slice);
//   scale        float, or Pow2 (scale = 2^−pos, Vitis AI's "fix_pos": shifts instead of multiplies);
//   symmetry     Symmetric types have no zero-point member: their zero point is the midpoint of the
//                storage range (0 for signed, 2^(bits−1) for unsigned, the 128 XINT8 uses), a
//                compile-time constant, so kernels drop the zero-point correction terms statically.
// A kernel that needs per-tensor activations takes PerTensor<...>, so a per-channel tensor does not
// compile there; its storage type T is constrained (Int8Storage, ...), so int16 data does not compile
// in an int8-only kernel.
//
// Graphs carry QuantInfo, the type-erased form. `as_params<Q>(info, what)` converts it to a typed
// Q and throws a qnn::error naming `what` when the scheme does not fit.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <type_traits>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"

namespace qnn {

// scale = 2^−pos.
struct Pow2 {
  int pos = 0;
  float value() const { return std::ldexp(1.0f, -pos); }
  friend bool operator==(Pow2, Pow2) = default;
};

enum class Symmetry : std::uint8_t { asymmetric, symmetric };

template <class S>
concept ScaleType = std::same_as<S, float> || std::same_as<S, Pow2>;

template <QuantStorage T>
inline constexpr std::int32_t symmetric_zero_point_v =
    std::is_signed_v<T> ? 0 : (std::int32_t{1} << (8 * sizeof(T) - 1));

inline float scale_value(float s) { return s; }
inline float scale_value(Pow2 s) { return s.value(); }

// Exact power-of-two test and conversion: 2^−pos == s, or a qnn::error.
inline bool is_pow2_scale(float s) {
  if (!(s > 0.0f) || !std::isfinite(s)) return false;
  int e = 0;
  return std::frexp(s, &e) == 0.5f;
}
inline Pow2 to_pow2(float s) {
  check(is_pow2_scale(s), "scale ", s, " is not a power of two");
  int e = 0;
  std::frexp(s, &e);  // s = 0.5 · 2^e = 2^(e−1)
  return Pow2{1 - e};
}

namespace detail {
template <QuantStorage T>
void check_zero_point(std::int32_t zp) {
  check(zp >= std::numeric_limits<T>::min() && zp <= std::numeric_limits<T>::max(), "zero point ",
        zp, " is outside the ", name_of(dtype_of_v<T>), " range");
}
template <ScaleType S>
void check_scale(S s) {
  const float v = scale_value(s);
  check(v > 0.0f && std::isfinite(v), "scale ", v, " must be positive and finite");
}
}  // namespace detail

template <QuantStorage T, ScaleType S = float, Symmetry Sym = Symmetry::asymmetric>
struct PerTensor {
  using storage_type = T;
  using scale_type = S;
  static constexpr bool per_channel = false;
  static constexpr bool symmetric = Sym == Symmetry::symmetric;

  S scale{};
  T zero_point{};  // ignored for symmetric types, which always use symmetric_zero_point_v<T>

  PerTensor() = default;
  explicit PerTensor(S s, std::int32_t zp = symmetric_zero_point_v<T>) : scale(s) {
    detail::check_scale(s);
    detail::check_zero_point<T>(zp);
    if constexpr (symmetric)
      check(zp == symmetric_zero_point_v<T>, "symmetric ", name_of(dtype_of_v<T>),
            " quantization needs zero point ", symmetric_zero_point_v<T>, ", got ", zp);
    zero_point = static_cast<T>(zp);
  }

  std::int64_t channels() const { return 1; }
  float scale_at(std::int64_t) const { return scale_value(scale); }
  S raw_scale_at(std::int64_t) const { return scale; }
  std::int32_t zero_point_at(std::int64_t) const {
    if constexpr (symmetric) return symmetric_zero_point_v<T>;
    return zero_point;
  }
};

template <QuantStorage T, ScaleType S = float, Symmetry Sym = Symmetry::asymmetric>
struct PerChannel {
  using storage_type = T;
  using scale_type = S;
  static constexpr bool per_channel = true;
  static constexpr bool symmetric = Sym == Symmetry::symmetric;

  int axis = 0;
  std::vector<S> scales;
  std::vector<T> zero_points;  // empty for symmetric types

  PerChannel() = default;
  PerChannel(int ax, std::vector<S> s, std::vector<std::int32_t> zps = {})
      : axis(ax), scales(std::move(s)) {
    check(!scales.empty(), "per-channel quantization needs at least one scale");
    for (const S& v : scales) detail::check_scale(v);
    if constexpr (symmetric) {
      for (std::int32_t z : zps)
        check(z == symmetric_zero_point_v<T>, "symmetric ", name_of(dtype_of_v<T>),
              " quantization needs zero point ", symmetric_zero_point_v<T>, ", got ", z);
    } else {
      if (zps.empty()) zps.assign(scales.size(), 0);
      check(zps.size() == scales.size(), "per-channel quantization has ", scales.size(),
            " scales but ", zps.size(), " zero points");
      for (std::int32_t z : zps) {
        detail::check_zero_point<T>(z);
        zero_points.push_back(static_cast<T>(z));
      }
    }
  }

  std::int64_t channels() const { return static_cast<std::int64_t>(scales.size()); }
  float scale_at(std::int64_t c) const { return scale_value(scales[static_cast<std::size_t>(c)]); }
  S raw_scale_at(std::int64_t c) const { return scales[static_cast<std::size_t>(c)]; }
  std::int32_t zero_point_at(std::int64_t c) const {
    if constexpr (symmetric) return symmetric_zero_point_v<T>;
    return zero_points[static_cast<std::size_t>(c)];
  }
};

template <class Q>
concept QuantParams = requires(const Q& q) {
  typename Q::storage_type;
  typename Q::scale_type;
  { Q::per_channel } -> std::convertible_to<bool>;
  { Q::symmetric } -> std::convertible_to<bool>;
  { q.scale_at(0) } -> std::same_as<float>;
  { q.zero_point_at(0) } -> std::same_as<std::int32_t>;
};

template <class Q>
concept PerTensorParams = QuantParams<Q> && !Q::per_channel;

// ---- runtime form ---------------------------------------------------------------------------

// How a graph tensor is quantized. `axis < 0` means per tensor. Scales and zero points have one
// entry per tensor or per channel.
struct QuantInfo {
  DType storage = DType::i8;
  int axis = -1;
  std::vector<float> scales;
  std::vector<std::int32_t> zero_points;

  bool per_channel() const { return axis >= 0; }
  bool pow2() const {
    for (float s : scales)
      if (!is_pow2_scale(s)) return false;
    return !scales.empty();
  }
  friend bool operator==(const QuantInfo&, const QuantInfo&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const QuantInfo& q) {
  os << q.storage << (q.per_channel() ? " per-channel(axis " : " per-tensor");
  if (q.per_channel()) os << q.axis << ", " << q.scales.size() << " channels)";
  if (q.scales.size() == 1) os << " scale " << q.scales[0] << " zero point " << q.zero_points[0];
  return os;
}

// Typed -> runtime.
template <QuantParams Q>
QuantInfo to_info(const Q& q) {
  QuantInfo info;
  info.storage = dtype_of_v<typename Q::storage_type>;
  if constexpr (Q::per_channel) info.axis = q.axis;
  for (std::int64_t c = 0; c < q.channels(); ++c) {
    info.scales.push_back(q.scale_at(c));
    info.zero_points.push_back(q.zero_point_at(c));
  }
  return info;
}

// Runtime -> typed, checked. `what` names the tensor in the error message. A per-tensor QuantInfo
// converts to a PerChannel type only through broadcast_channels(), never implicitly.
template <QuantParams Q>
Q as_params(const QuantInfo& info, std::string_view what) {
  using T = typename Q::storage_type;
  using S = typename Q::scale_type;
  return with_context(std::string(what), [&]() -> Q {
    check(info.storage == dtype_of_v<T>, "expected ", name_of(dtype_of_v<T>),
          " quantization, got ", info.storage);
    check(!info.scales.empty() && info.scales.size() == info.zero_points.size(),
          "malformed quantization parameters (", info.scales.size(), " scales, ",
          info.zero_points.size(), " zero points)");
    auto scale = [&](std::size_t i) -> S {
      if constexpr (std::same_as<S, Pow2>)
        return to_pow2(info.scales[i]);
      else
        return info.scales[i];
    };
    if constexpr (Q::per_channel) {
      check(info.per_channel(), "expected per-channel quantization, got per-tensor");
      std::vector<S> s;
      for (std::size_t i = 0; i < info.scales.size(); ++i) s.push_back(scale(i));
      return Q(info.axis, std::move(s), info.zero_points);
    } else {
      check(!info.per_channel(), "expected per-tensor quantization, got per-channel along axis ",
            info.axis);
      return Q(scale(0), info.zero_points[0]);
    }
  });
}

// Per-tensor parameters repeated for `channels` channels: the explicit way to hand a per-tensor
// weight to a kernel that takes per-channel weights.
template <QuantStorage T, ScaleType S, Symmetry Sym>
PerChannel<T, S, Sym> broadcast_channels(const PerTensor<T, S, Sym>& q, int axis,
                                         std::int64_t channels) {
  return PerChannel<T, S, Sym>(axis, std::vector<S>(static_cast<std::size_t>(channels), q.scale),
                               std::vector<std::int32_t>(static_cast<std::size_t>(channels),
                                                         q.zero_point_at(0)));
}

}  // namespace qnn
