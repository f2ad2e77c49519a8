// Build configuration: the only place qnn defines configuration macros.
//
//   QNN_DYNAMIC_DISPATCH  defined by the opt-in compiled part (qnn::dispatch, src/dispatch.cpp):
//                         SIMD kernels are chosen at run time for the CPU, one binary for AVX2,
//                         AVX-512 and VNNI machines. Otherwise (the default, header-only) the
//                         kernels are compiled for the best target the compile flags allow.
//   QNN_NO_SIMD           use the scalar reference kernels only.
#pragma once

// Highway 1.0.3 refuses -march=native on AVX-512 VNNI machines ("best baseline should be
// included in dynamic targets") unless AVX3_DL is wanted; wanting it is harmless elsewhere.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif

#define QNN_VERSION_MAJOR 0
#define QNN_VERSION_MINOR 1
#define QNN_VERSION_PATCH 0
