// Evaluating an image classifier on a labelled dataset: top-1 accuracy, per-class accuracy, the
// confusion matrix and every prediction (for figures and for agreement between two models).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/io/idx.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn {

struct ClassificationReport {
  int classes = 0;
  std::int64_t total = 0;
  std::int64_t correct = 0;
  std::vector<std::int64_t> confusion;  // [true class][predicted class]
  std::vector<std::int32_t> predictions;

  double accuracy() const { return total ? double(correct) / double(total) : 0.0; }
  double class_accuracy(int c) const {
    std::int64_t n = 0;
    for (int p = 0; p < classes; ++p) n += confusion[static_cast<std::size_t>(c * classes + p)];
    return n ? double(confusion[static_cast<std::size_t>(c * classes + c)]) / double(n) : 0.0;
  }
  // Fraction of images on which two reports predict the same class.
  double agreement(const ClassificationReport& o) const {
    check(o.predictions.size() == predictions.size(), "agreement between reports of ", predictions.size(), " and ",
          o.predictions.size(), " images");
    std::int64_t same = 0;
    for (std::size_t i = 0; i < predictions.size(); ++i) same += predictions[i] == o.predictions[i];
    return predictions.empty() ? 0.0 : double(same) / double(predictions.size());
  }
};

// Runs uint8 N×H×W images (scaled to [0,1], as io::images_to_float does) through a one-input,
// one-output classifier in batches; the class is the argmax of the output row (first on ties).
// `S` is a Session or any BasicSession<Backend> (the NPU emulator predicts the device's accuracy).
template <class S>
ClassificationReport evaluate_classifier(const S& s, const Tensor& images, const Tensor& labels,
                                         std::int64_t batch = 250, int classes = 10) {
  check(s.input_names().size() == 1, "the classifier must have one input, it has ", s.input_names().size());
  check(labels.dtype() == DType::u8 && labels.shape().rank() == 1 && labels.shape()[0] == images.shape()[0],
        "labels must be uint8 with one entry per image");
  ClassificationReport r;
  r.classes = classes;
  r.confusion.assign(static_cast<std::size_t>(classes * classes), 0);
  typename S::Context ctx;
  std::vector<Tensor> out;
  const std::int64_t n = images.shape()[0];
  const auto y = labels.span<std::uint8_t>();
  for (std::int64_t first = 0; first < n; first += batch) {
    const std::int64_t count = std::min(batch, n - first);
    const Tensor x = io::images_to_float(images, first, count);
    s.run(ctx, std::span<const Tensor>(&x, 1), out);
    check(out.size() >= 1 && out[0].dtype() == DType::f32 && out[0].shape().rank() == 2 &&
              out[0].shape()[0] == count && out[0].shape()[1] == classes,
          "the classifier's output must be float32 [batch, ", classes, "], got ", out[0].dtype(), " ", out[0].shape());
    const auto logits = out[0].span<float>();
    for (std::int64_t i = 0; i < count; ++i) {
      const float* row = logits.data() + i * classes;
      const int pred = static_cast<int>(std::max_element(row, row + classes) - row);
      const int truth = y[static_cast<std::size_t>(first + i)];
      ++r.confusion[static_cast<std::size_t>(truth * classes + pred)];
      r.correct += pred == truth;
      r.predictions.push_back(pred);
    }
    r.total += count;
  }
  return r;
}

}  // namespace qnn
