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

// The release, as in CMake's project(VERSION): configuring fails when the two disagree
// (CMakeLists.txt), and the installed qnnConfigVersion.cmake and qnn.pc carry the same number.
// QNN_VERSION orders releases in #if: 0.1.0 is 100, 1.2.3 is 10203.
#define QNN_VERSION_MAJOR 0
#define QNN_VERSION_MINOR 1
#define QNN_VERSION_PATCH 0
#define QNN_VERSION_STRING "0.1.0"
#define QNN_VERSION (QNN_VERSION_MAJOR * 10000 + QNN_VERSION_MINOR * 100 + QNN_VERSION_PATCH)
