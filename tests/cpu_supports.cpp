// qnn_cpu_supports FEATURE...: exits 0 when this CPU has every feature, else prints which one is
// missing and exits 77 (CTest's "skipped"). Compiled without -march flags so it runs anywhere; the
// per-target SIMD test binaries run only after it succeeds, since even their static initializers
// may use the target's instructions.
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  __builtin_cpu_init();
  for (int i = 1; i < argc; ++i) {
    const char* f = argv[i];
    bool ok = false;
    if (!std::strcmp(f, "sse4.2")) ok = __builtin_cpu_supports("sse4.2");
    else if (!std::strcmp(f, "avx2")) ok = __builtin_cpu_supports("avx2");
    else if (!std::strcmp(f, "fma")) ok = __builtin_cpu_supports("fma");
    else if (!std::strcmp(f, "avx512f")) ok = __builtin_cpu_supports("avx512f");
    else if (!std::strcmp(f, "avx512bw")) ok = __builtin_cpu_supports("avx512bw");
    else if (!std::strcmp(f, "avx512vl")) ok = __builtin_cpu_supports("avx512vl");
    else if (!std::strcmp(f, "avx512vnni")) ok = __builtin_cpu_supports("avx512vnni");
    else if (!std::strcmp(f, "avx512vbmi")) ok = __builtin_cpu_supports("avx512vbmi");
    else if (!std::strcmp(f, "avx512bf16")) ok = __builtin_cpu_supports("avx512bf16");
    else {
      std::printf("unknown CPU feature '%s'\n", f);
      return 2;
    }
    if (!ok) {
      std::printf("skipped: this CPU lacks %s\n", f);
      return 77;
    }
  }
  return 0;
}
