// qnn — the command-line tool.
//
//   qnn run MODEL.onnx --input X.npy ... --output Y.npy ...   run a model on NumPy inputs
//   qnn inspect MODEL.onnx [--json]                           show the prepared graph
//   qnn quantize MODEL.onnx --calib X.npy|--calib-idx DIR -o OUT.onnx ...   post-training quantization
//   qnn profile MODEL.onnx --input X.npy [--json]              per-node time, MACs, GMAC/s
//   qnn eval MODEL.onnx --idx DIR                             classifier accuracy on an IDX dataset
//   qnn compare FLOAT.onnx QUANT.onnx --input X.npy           per-layer error report
//   qnn compare QUANT.onnx --as-written --input X.npy         as-written vs fused, element by element
//
// `qnn help`, and -h or --help anywhere, print the usage and exit with status 0.
// Any failure prints one line, "qnn: error: ...", naming the file, node or tensor and the reason,
// and exits with status 1 (2 for usage errors); no output file is left half written, and no output
// may name an input file.
#include <csignal>
#include <exception>
#include <iostream>
#include <string>

#include "cmd_compare.hpp"
#include "cmd_eval.hpp"
#include "cmd_inspect.hpp"
#include "cmd_profile.hpp"
#include "cmd_quantize.hpp"
#include "cmd_run.hpp"

namespace {

const char* kUsage =
    "usage: qnn <command> [arguments]\n"
    "  run MODEL.onnx --input X.npy [--input X2.npy ...] --output Y.npy [--output Y2.npy ...]\n"
    "      [--threads N] [--backend cpu|cpu-ref|npu-emu|xrt] [--precision bf16] [--requant POLICY] [--no-optimize]\n"
    "  inspect MODEL.onnx [--json] [--backend cpu|cpu-ref|npu-emu|xrt]   (nodes, devices, fallback reasons)\n"
    "  quantize MODEL.onnx (--calib CALIB.npy | --calib-idx DIR) -o OUT.onnx\n"
    "      [--config u8s8|s8s8|a8w8|a16w8|xint8|bf16] [--method minmax|percentile|entropy|mse|pow2-mse]\n"
    "      [--per-channel|--per-tensor] [--reduce-range] [--percentile P] [--calib-per-class N]\n"
    "      [--exclude NODE] [--exclude-op TYPE] [--cle] [--bias-correction] [--finetune] [--threads N]\n"
    "      [--log FILE]\n"
    "  profile MODEL.onnx --input X.npy [--input X2.npy ...] [--runs N] [--warmup N] [--json]\n"
    "      [--threads N] [--backend cpu|cpu-ref|npu-emu|xrt]   (per-node time, MACs, GMAC/s, share)\n"
    "  eval MODEL.onnx --idx DIR [--split t10k|train] [--backend cpu|cpu-ref|npu-emu|xrt] [--json]\n"
    "  compare FLOAT.onnx QUANT.onnx --input X.npy [--json]\n"
    "  compare QUANT.onnx --as-written --input X.npy [--json] [--list N]\n"
    "  --backend xrt (builds with QNN_WITH_XRT): --xrt-manifest FILE (or QNN_XRT_MANIFEST) names the\n"
    "      prebuilt NPU artefacts; [--xrt-timeout MS] [--xrt-allow-cpu] (no device: all on the CPU, reported)\n";

int dispatch(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "qnn: error: no command given\n" << kUsage;
    return 2;
  }
  const std::string cmd = argv[1];
  // `qnn quantize --help` is what a user types first: the usage, not "unknown option --help".
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
  }
  if (cmd == "run") return qnn::cli::cmd_run(argc, argv);
  if (cmd == "inspect") return qnn::cli::cmd_inspect(argc, argv);
  if (cmd == "quantize") return qnn::cli::cmd_quantize(argc, argv);
  if (cmd == "eval") return qnn::cli::cmd_eval(argc, argv);
  if (cmd == "profile") return qnn::cli::cmd_profile(argc, argv);
  if (cmd == "compare") return qnn::cli::cmd_compare(argc, argv);
  if (cmd == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "qnn: error: unknown command '" << cmd << "'\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f) then fails a write with EFBIG, reported like a full disk, instead
  // of killing the process with SIGXFSZ halfway through an output file.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return dispatch(argc, argv);
  } catch (const qnn::error& e) {
    std::cerr << "qnn: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "qnn: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "qnn: error: internal: " << e.what() << "\n";
    return 1;
  }
}
