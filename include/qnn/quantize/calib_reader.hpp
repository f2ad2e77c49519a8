// Calibration data: a reader hands out batches (one tensor per model input) and can start over:
// calibration reads the data once, from the start; bias correction and finetuning read it again.
// Readers convert lazily, one batch at a time, so a large dataset never has to sit in memory as
// float.
//
//   TensorReader  batches along the first axis of in-memory tensors (e.g. a loaded .npy file)
//   ImageReader   uint8 images (N×H×W or N×C×H×W, an IDX file) selected by index, converted to
//                 float32 N×1×H×W (or N×C×H×W) as pixel / 255 per batch
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"

namespace qnn::quant {

class CalibrationReader {
 public:
  virtual ~CalibrationReader() = default;
  // The next batch, one tensor per model input; nullopt after the last one.
  virtual std::optional<std::vector<Tensor>> next() = 0;
  // Starts again from the first batch.
  virtual void rewind() = 0;
  // Number of samples, for progress reports.
  virtual std::int64_t samples() const = 0;
};

// The rows [begin, end) of t along axis 0, as a new tensor.
inline Tensor slice_rows(const Tensor& t, std::int64_t begin, std::int64_t end) {
  check(t.shape().rank() >= 1 && begin >= 0 && begin <= end && end <= t.shape()[0], "cannot take rows ", begin,
        "..", end, " of a tensor of shape ", t.shape());
  Shape s = t.shape();
  s[0] = end - begin;
  Tensor out(t.dtype(), s);
  const std::size_t row = t.shape()[0] ? t.bytes() / static_cast<std::size_t>(t.shape()[0]) : 0;
  if (out.bytes()) std::memcpy(out.raw(), t.raw() + static_cast<std::size_t>(begin) * row, out.bytes());
  return out;
}

class TensorReader final : public CalibrationReader {
 public:
  TensorReader(std::vector<Tensor> inputs, std::int64_t batch) : inputs_(std::move(inputs)), batch_(batch) {
    check(!inputs_.empty(), "calibration data has no tensors");
    check(batch_ >= 1, "calibration batch size must be positive, got ", batch_);
    for (const Tensor& t : inputs_) {
      check(t.shape().rank() >= 1 && t.shape()[0] == inputs_[0].shape()[0], "calibration tensors of shapes ",
            inputs_[0].shape(), " and ", t.shape(), " differ in their first (sample) axis");
      check(t.dtype() == DType::f32, "calibration data must be float32, got ", t.dtype());
    }
    check(samples() > 0, "calibration data is empty");
  }
  std::optional<std::vector<Tensor>> next() override {
    if (pos_ >= samples()) return std::nullopt;
    const std::int64_t end = std::min(samples(), pos_ + batch_);
    std::vector<Tensor> out;
    for (const Tensor& t : inputs_) out.push_back(slice_rows(t, pos_, end));
    pos_ = end;
    return out;
  }
  void rewind() override { pos_ = 0; }
  std::int64_t samples() const override { return inputs_[0].shape()[0]; }

 private:
  std::vector<Tensor> inputs_;
  std::int64_t batch_;
  std::int64_t pos_ = 0;
};

class ImageReader final : public CalibrationReader {
 public:
  // images: uint8 N×H×W (a channel axis of 1 is added) or N×C×H×W; indices select and order them.
  ImageReader(const Tensor& images, std::vector<std::int64_t> indices, std::int64_t batch)
      : images_(&images), indices_(std::move(indices)), batch_(batch) {
    check(images.dtype() == DType::u8, "image calibration data must be uint8, got ", images.dtype());
    check(images.shape().rank() == 3 || images.shape().rank() == 4, "images must be N×H×W or N×C×H×W, got ",
          images.shape());
    check(batch_ >= 1, "calibration batch size must be positive, got ", batch_);
    check(!indices_.empty(), "no calibration images selected");
    for (std::int64_t i : indices_)
      check(i >= 0 && i < images.shape()[0], "image index ", i, " is outside the ", images.shape()[0], " images");
  }
  std::optional<std::vector<Tensor>> next() override {
    const auto n = static_cast<std::int64_t>(indices_.size());
    if (pos_ >= n) return std::nullopt;
    const std::int64_t end = std::min(n, pos_ + batch_);
    const Shape& s = images_->shape();
    const std::int64_t per = images_->numel() / s[0];
    Shape bs = s.rank() == 3 ? Shape{end - pos_, 1, s[1], s[2]} : Shape{end - pos_, s[1], s[2], s[3]};
    Tensor out(DType::f32, bs);
    auto dst = out.span<float>();
    const auto src = images_->span<std::uint8_t>();
    for (std::int64_t b = 0; b < end - pos_; ++b) {
      const std::int64_t img = indices_[static_cast<std::size_t>(pos_ + b)];
      for (std::int64_t j = 0; j < per; ++j)
        dst[static_cast<std::size_t>(b * per + j)] = static_cast<float>(src[static_cast<std::size_t>(img * per + j)]) / 255.0f;
    }
    pos_ = end;
    return std::vector<Tensor>{std::move(out)};
  }
  void rewind() override { pos_ = 0; }
  std::int64_t samples() const override { return static_cast<std::int64_t>(indices_.size()); }

 private:
  const Tensor* images_;
  std::vector<std::int64_t> indices_;
  std::int64_t batch_;
  std::int64_t pos_ = 0;
};

}  // namespace qnn::quant
