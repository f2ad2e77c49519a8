// The one place that decides which SIMD code runs.
//
// Header-only (default): the kernels in kernels/simd/*-inl.hpp (GEMM tiles and epilogues, max
// pooling, QuantizeLinear) are compiled once, for the best Highway target the compile flags allow
// (-march=native, -march=x86-64-v3 -maes -mpclmul → AVX2, -march=x86-64-v4 ... → AVX-512).
// Without such flags Highway's target is SCALAR, for which qnn has no SIMD kernels: the portable
// C++ loops (or the reference kernels) run instead (same layouts, same results).
// With QNN_DYNAMIC_DISPATCH (the opt-in compiled part, target qnn::dispatch), the table comes from
// src/dispatch.cpp, which compiles the kernels for every x86 target and picks the best one the
// CPU supports at run time.
// Kernels never look at targets; they receive this table.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qnn/config.hpp"
#include "qnn/kernels/simd/gemm_args.hpp"
#include "qnn/kernels/simd/pool_args.hpp"
#include "qnn/kernels/simd/quantize_args.hpp"

#if !defined(QNN_NO_SIMD) && !defined(QNN_DYNAMIC_DISPATCH)
#include "hwy/highway.h"
#include "qnn/kernels/simd/gemm-inl.hpp"
#include "qnn/kernels/simd/pool-inl.hpp"
#include "qnn/kernels/simd/quantize-inl.hpp"
#endif

namespace qnn::simd {

struct KernelTable {
  const char* target = "portable";
  std::size_t lanes = 8;  // int32/float lanes per vector: the packed panel width
  void (*gemm_i16)(const GemmI16Args&) = nullptr;
  void (*gemm_f32)(const GemmF32Args&) = nullptr;
  void (*requant_onnx_u8)(const RequantArgs&) = nullptr;
  void (*requant_onnx_i8)(const RequantArgs&) = nullptr;
  void (*max_pool_u8)(const MaxPoolArgs&) = nullptr;
  void (*max_pool_i8)(const MaxPoolArgs&) = nullptr;
  void (*max_pool_i16)(const MaxPoolArgs&) = nullptr;
  void (*max_pool_f32)(const MaxPoolArgs&) = nullptr;
  void (*quantize_u8)(const QuantizeArgs&) = nullptr;
  void (*quantize_i8)(const QuantizeArgs&) = nullptr;
  void (*quantize_u16)(const QuantizeArgs&) = nullptr;
  void (*quantize_i16)(const QuantizeArgs&) = nullptr;
};

#if defined(QNN_DYNAMIC_DISPATCH)
// Defined in src/dispatch.cpp.
const KernelTable* dynamic_kernel_table();
inline const KernelTable* kernel_table() { return dynamic_kernel_table(); }
#elif defined(QNN_NO_SIMD) || HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128
inline const KernelTable* kernel_table() { return nullptr; }
#else
inline const KernelTable* kernel_table() {
  static const KernelTable t = [] {
    KernelTable k;
    k.target = hwy::TargetName(HWY_TARGET);
    k.lanes = HWY_NAMESPACE::lanes_i32();
    k.gemm_i16 = &HWY_NAMESPACE::gemm_block_i16;
    k.gemm_f32 = &HWY_NAMESPACE::gemm_block_f32;
    k.requant_onnx_u8 = &HWY_NAMESPACE::requant_onnx_u8;
    k.requant_onnx_i8 = &HWY_NAMESPACE::requant_onnx_i8;
    k.max_pool_u8 = &HWY_NAMESPACE::max_pool_u8;
    k.max_pool_i8 = &HWY_NAMESPACE::max_pool_i8;
    k.max_pool_i16 = &HWY_NAMESPACE::max_pool_i16;
    k.max_pool_f32 = &HWY_NAMESPACE::max_pool_f32;
    k.quantize_u8 = &HWY_NAMESPACE::quantize_u8;
    k.quantize_i8 = &HWY_NAMESPACE::quantize_i8;
    k.quantize_u16 = &HWY_NAMESPACE::quantize_u16;
    k.quantize_i16 = &HWY_NAMESPACE::quantize_i16;
    return k;
  }();
  return &t;
}
#endif

// Name of the code path GEMMs run on ("AVX2", "AVX3", ..., or "portable").
inline const char* active_target() {
  const KernelTable* t = kernel_table();
  return t ? t->target : "portable";
}

}  // namespace qnn::simd
