// The table of per-target SIMD kernels that the CPU drivers (kernels/cpu/) call through: one
// function pointer per kernel, filled for one Highway target by kernels/simd/table-inl.hpp and
// chosen by kernels/dispatch.hpp. A plain struct of pointers, so the drivers need no Highway
// header and the run-time dispatch build can hold one table per target.
#pragma once

#include <cstddef>

#include "qnn/kernels/simd/gemm_args.hpp"
#include "qnn/kernels/simd/pool_args.hpp"
#include "qnn/kernels/simd/quantize_args.hpp"

namespace qnn::simd {

struct KernelTable {
  const char* target = "portable";
  std::size_t lanes = 8;  // int32/float lanes per vector: the packed panel width
  void (*gemm_i16)(const GemmI16Args&) = nullptr;
  void (*gemm_u8s8)(const GemmU8S8Args&) = nullptr;  // x86 only; null: no byte kernels (int16 only)
  void (*gemm_f32)(const GemmF32Args&) = nullptr;
  void (*requant_onnx_u8)(const RequantArgs&) = nullptr;
  void (*requant_onnx_i8)(const RequantArgs&) = nullptr;
  void (*max_pool_u8)(const MaxPoolArgs&) = nullptr;
  void (*max_pool_i8)(const MaxPoolArgs&) = nullptr;
  void (*max_pool_i16)(const MaxPoolArgs&) = nullptr;
  void (*max_pool_f32)(const MaxPoolArgs&) = nullptr;
  void (*max_pool_sums_i32)(const PoolSumsArgs&) = nullptr;
  void (*quantize_u8)(const QuantizeArgs&) = nullptr;
  void (*quantize_i8)(const QuantizeArgs&) = nullptr;
  void (*quantize_u16)(const QuantizeArgs&) = nullptr;
  void (*quantize_i16)(const QuantizeArgs&) = nullptr;
};

}  // namespace qnn::simd
