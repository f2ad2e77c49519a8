// The kernel table of one Highway target: the only place the per-target kernels are named. The
// header-only build includes it once (the static target, kernels/dispatch.hpp); the run-time
// dispatch build (src/dispatch.cpp) has hwy/foreach_target.h re-include it once per x86 target
// (the two-guard -inl idiom), so both builds fill their tables with this one function.
//
// SCALAR and EMU128 get no SIMD kernels (gemm-inl.hpp says why): their table is nullptr, which the
// drivers read as "run the portable loops".

#if defined(QNN_KERNELS_SIMD_TABLE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNN_KERNELS_SIMD_TABLE_INL_H_
#undef QNN_KERNELS_SIMD_TABLE_INL_H_
#else
#define QNN_KERNELS_SIMD_TABLE_INL_H_
#endif

#include "hwy/highway.h"
#include "qnn/kernels/simd/gemm-inl.hpp"
#include "qnn/kernels/simd/kernel_table.hpp"
#include "qnn/kernels/simd/pool-inl.hpp"
#include "qnn/kernels/simd/quantize-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace qnn::simd {
namespace HWY_NAMESPACE {

// This target's table (built on first use; call it only on a CPU that supports the target), or
// nullptr where qnn has no SIMD kernels.
inline const KernelTable* target_kernel_table() {
#if HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128
  return nullptr;
#else
  static const KernelTable t = [] {
    KernelTable k;
    k.target = hwy::TargetName(HWY_TARGET);
    k.lanes = lanes_i32();
    k.gemm_i16 = &gemm_block_i16;
#if HWY_ARCH_X86
    k.gemm_u8s8 = &gemm_block_u8s8;
#endif
    k.gemm_f32 = &gemm_block_f32;
    k.requant_onnx_u8 = &requant_onnx_u8;
    k.requant_onnx_i8 = &requant_onnx_i8;
    k.max_pool_u8 = &max_pool_u8;
    k.max_pool_i8 = &max_pool_i8;
    k.max_pool_i16 = &max_pool_i16;
    k.max_pool_f32 = &max_pool_f32;
    k.max_pool_sums_i32 = &max_pool_sums_i32;
    k.quantize_u8 = &quantize_u8;
    k.quantize_i8 = &quantize_i8;
    k.quantize_u16 = &quantize_u16;
    k.quantize_i16 = &quantize_i16;
    return k;
  }();
  return &t;
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace qnn::simd
HWY_AFTER_NAMESPACE();

#endif  // include guard
