// The unquantized operators: convolution, pooling and batch norm (float_nn.hpp), Gemm and MatMul
// (float_linear.hpp), activations, arithmetic and Softmax (float_eltwise.hpp). Each registration
// names the oldest ONNX opset whose semantics the kernel implements.
#pragma once

#include <memory>

#include "qnn/kernels/ref/activation.hpp"
#include "qnn/kernels/ref/binary.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/float_eltwise.hpp"
#include "qnn/runtime/ops/float_linear.hpp"
#include "qnn/runtime/ops/float_nn.hpp"
#include "qnn/runtime/ops/op_util.hpp"

namespace qnn::ops {

inline void register_float_ops(KernelRegistry& r) {
  r.add("", "Conv", 1, factory<ConvKernel>());
  r.add("", "BatchNormalization", 7, factory<BatchNormKernel>());  // opset 6 had is_test
  r.add("", "MaxPool", 1, [](const NodeInfo& n) { return std::make_unique<PoolKernel>(n, true); });
  r.add("", "AveragePool", 1, [](const NodeInfo& n) { return std::make_unique<PoolKernel>(n, false); });
  r.add("", "GlobalMaxPool", 1, [](const NodeInfo& n) { return std::make_unique<GlobalPoolKernel>(n, true); });
  r.add("", "GlobalAveragePool", 1, [](const NodeInfo& n) { return std::make_unique<GlobalPoolKernel>(n, false); });
  r.add("", "Gemm", 7, factory<GemmKernel>());  // opset 6 had the 'broadcast' attribute
  r.add("", "MatMul", 1, factory<MatMulKernel>());

  // Activations: opset 6 dropped 'consumed_inputs'.
  auto activation = [](auto make) {
    return [make](const NodeInfo& n) -> std::unique_ptr<OpKernel> {
      return std::make_unique<FloatActivationKernel>(n, make(n.attrs()));
    };
  };
  r.add("", "Relu", 6, factory<ReluKernel>());
  r.add("", "Clip", 6, factory<ClipKernel>());
  r.add("", "LeakyRelu", 6,
        activation([](const Attributes& a) { return ref::Activation::leaky_relu(a.get_float("alpha", 0.01f)); }));
  r.add("", "HardSigmoid", 6, activation([](const Attributes& a) {
          return ref::Activation::hard_sigmoid(a.get_float("alpha", 0.2f), a.get_float("beta", 0.5f));
        }));
  r.add("", "Sigmoid", 6, activation([](const Attributes&) { return ref::Activation::sigmoid(); }));
  r.add("", "Tanh", 6, activation([](const Attributes&) { return ref::Activation::tanh(); }));
  r.add("", "HardSwish", 14, activation([](const Attributes&) { return ref::Activation::hard_swish(); }));

  // Arithmetic: opset 7 replaced the 'broadcast' attribute by NumPy broadcasting.
  auto binary = [](ref::BinaryOp op) {
    return [op](const NodeInfo& n) -> std::unique_ptr<OpKernel> { return std::make_unique<BinaryKernel>(n, op); };
  };
  r.add("", "Add", 7, binary(ref::BinaryOp::add));
  r.add("", "Sub", 7, binary(ref::BinaryOp::sub));
  r.add("", "Mul", 7, binary(ref::BinaryOp::mul));
  r.add("", "Div", 7, binary(ref::BinaryOp::div));

  r.add("", "Softmax", 1, factory<SoftmaxKernel>());
}

}  // namespace qnn::ops
