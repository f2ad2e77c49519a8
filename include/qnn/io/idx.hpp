// IDX files (the MNIST / Fashion-MNIST format) and the dataset helpers of the example.
//
// IDX layout: two zero bytes, a type byte, the number of dimensions, then each dimension as a
// big-endian uint32, then the elements in C order, big-endian. Types read: 0x08 uint8, 0x09 int8,
// 0x0B int16, 0x0C int32, 0x0D float32 (byte-swapped to the host); 0x0E float64 is refused.
// load_idx gunzips files that start with the gzip magic (io/inflate.hpp), so the .gz files the
// datasets are distributed as load directly. A file whose name ends in ".gz" but is not gzip, data
// shorter or longer than the dimensions say, more than 8 dimensions: each is a qnn::error naming
// the file and the counts. Sizes are checked before the tensor is allocated.
//
// The example's dataset rules live here too, so that the tool, the example and the tests agree:
// images_to_float scales a pixel p to exactly static_cast<float>(p) / 255.0f, and balanced_subset
// picks the calibration set: the first `per_class` images of each class, in file order.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/shape.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/io/file.hpp"
#include "qnn/io/inflate.hpp"

namespace qnn::io {

namespace detail {

inline DType idx_dtype(std::uint32_t code, std::string_view what) {
  switch (code) {
    case 0x08: return DType::u8;
    case 0x09: return DType::i8;
    case 0x0B: return DType::i16;
    case 0x0C: return DType::i32;
    case 0x0D: return DType::f32;
    case 0x0E: fail(what, ": IDX type 0x0E (float64) is not supported");
    default: break;
  }
  fail(what, ": IDX type byte 0x", std::hex, code, std::dec,
       " is not one of 08 (uint8), 09 (int8), 0B (int16), 0C (int32), 0D (float32)");
}

inline bool is_gzip(std::span<const std::byte> bytes) {
  return bytes.size() >= 2 && bytes[0] == std::byte{0x1F} && bytes[1] == std::byte{0x8B};
}

}  // namespace detail

// Parses IDX bytes (already decompressed); `what` names the source in messages.
inline Tensor parse_idx(std::span<const std::byte> bytes, std::string_view what) {
  const auto at = [&](std::size_t i) { return static_cast<std::uint32_t>(bytes[i]); };
  check(bytes.size() >= 4 && at(0) == 0 && at(1) == 0, what,
        ": not an IDX file (it does not start with two zero bytes; ", bytes.size(), " bytes)");
  const DType dtype = detail::idx_dtype(at(2), what);
  const std::size_t ndim = at(3);
  check(ndim <= static_cast<std::size_t>(Shape::kMaxRank), what, ": IDX file declares ", ndim,
        " dimensions, at most ", Shape::kMaxRank, " are supported");
  const std::size_t header = 4 + 4 * ndim;
  check(bytes.size() >= header, what, ": truncated IDX header: ", ndim, " dimensions need ", header,
        " bytes, the file has ", bytes.size());
  Shape shape;
  for (std::size_t d = 0; d < ndim; ++d) {
    const std::size_t p = 4 + 4 * d;
    shape.push_back(at(p) << 24 | at(p + 1) << 16 | at(p + 2) << 8 | at(p + 3));
  }
  const std::int64_t numel = with_context(std::string(what), [&] { return shape.numel(); });
  const std::size_t item = size_of(dtype);
  const std::size_t available = bytes.size() - header;
  check(static_cast<std::uint64_t>(numel) <= available / item, what,
        ": IDX data is truncated: dimensions ", shape, " need ", numel, " elements of ", item,
        " bytes, the file has ", available, " bytes after the ", header, "-byte header");
  const std::size_t needed = static_cast<std::size_t>(numel) * item;
  check(needed == available, what, ": IDX file has ", available - needed,
        " trailing bytes after the ", needed, " data bytes of dimensions ", shape);

  Tensor t(dtype, shape);
  if (needed == 0) return t;
  std::memcpy(t.raw(), bytes.data() + header, needed);
  if (item > 1 && std::endian::native == std::endian::little) {  // big-endian in the file
    std::byte* p = t.raw();
    for (std::size_t i = 0; i < needed; i += item) std::reverse(p + i, p + i + item);
  }
  return t;
}

// Reads an IDX file, gunzipping it first when it starts with the gzip magic.
inline Tensor load_idx(const std::filesystem::path& path) {
  const std::string what = file_context(path);
  const std::vector<std::byte> raw = read_file_bytes(path);
  if (!detail::is_gzip(raw)) {
    check(path.extension() != ".gz", what, ": the name ends in .gz but the data is not gzip");
    return parse_idx(raw, what);
  }
  const std::vector<std::byte> data = with_context(what, [&] { return gunzip(raw); });
  return parse_idx(data, what);
}

// A labelled image set: images uint8 [N, H, W], labels uint8 [N].
struct IdxDataset {
  Tensor images;
  Tensor labels;
};

// Loads Fashion-MNIST's `split` ("train" or "t10k") from `dir`: <split>-images-idx3-ubyte and
// <split>-labels-idx1-ubyte, each plain or with .gz appended. Checks that the images are uint8
// N×H×W, the labels uint8 N, the counts agree and every label is below 10.
inline IdxDataset load_fashion_mnist(const std::filesystem::path& dir, std::string_view split) {
  check(split == "train" || split == "t10k", "Fashion-MNIST split '", split,
        "' is neither 'train' nor 't10k'");
  const auto find = [&](const char* kind) {
    std::filesystem::path plain = dir / (std::string(split) + kind);
    std::filesystem::path gz = plain;
    gz += ".gz";
    std::error_code ec;
    if (std::filesystem::exists(plain, ec)) return plain;
    if (std::filesystem::exists(gz, ec)) return gz;
    fail("Fashion-MNIST: neither '", plain.string(), "' nor '", gz.string(), "' exists");
  };
  const std::filesystem::path image_path = find("-images-idx3-ubyte");
  const std::filesystem::path label_path = find("-labels-idx1-ubyte");
  IdxDataset ds{load_idx(image_path), load_idx(label_path)};
  check(ds.images.dtype() == DType::u8 && ds.images.shape().rank() == 3, file_context(image_path),
        ": expected uint8 images N x H x W, got ", ds.images.dtype(), " ", ds.images.shape());
  check(ds.labels.dtype() == DType::u8 && ds.labels.shape().rank() == 1, file_context(label_path),
        ": expected uint8 labels N, got ", ds.labels.dtype(), " ", ds.labels.shape());
  check(ds.images.shape()[0] == ds.labels.shape()[0], "Fashion-MNIST '", split, "': ",
        ds.images.shape()[0], " images in '", image_path.string(), "' but ", ds.labels.shape()[0],
        " labels in '", label_path.string(), "'");
  const std::span<const std::uint8_t> labels = ds.labels.span<std::uint8_t>();
  for (std::size_t i = 0; i < labels.size(); ++i) {
    check(labels[i] < 10, file_context(label_path), ": label ", i, " is ", int{labels[i]},
          ", not a class 0..9");
  }
  return ds;
}

// Images [first, first + count) of uint8 N×H×W images as float32 count×1×H×W, each pixel p as
// exactly static_cast<float>(p) / 255.0f (what the model was trained on: ToTensor()).
inline Tensor images_to_float(const Tensor& u8_images, std::int64_t first, std::int64_t count) {
  check(u8_images.dtype() == DType::u8 && u8_images.shape().rank() == 3,
        "images_to_float: expected uint8 images N x H x W, got ", u8_images.dtype(), " ",
        u8_images.shape());
  const std::int64_t n = u8_images.shape()[0];
  const std::int64_t h = u8_images.shape()[1];
  const std::int64_t w = u8_images.shape()[2];
  check(first >= 0 && count >= 0 && first <= n && count <= n - first, "images_to_float: images [",
        first, ", ", first, " + ", count, ") are not within the ", n, " images");
  Tensor out(DType::f32, Shape{count, 1, h, w});
  const std::span<const std::uint8_t> src =
      u8_images.span<std::uint8_t>().subspan(static_cast<std::size_t>(first * h * w),
                                             static_cast<std::size_t>(count * h * w));
  const std::span<float> dst = out.span<float>();
  for (std::size_t i = 0; i < src.size(); ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;
  return out;
}

// The calibration-set rule: the indices of the first `per_class` examples of each class
// 0..num_classes-1, in file order (so the result is sorted ascending). Every class must have at
// least `per_class` examples: a silently unbalanced calibration set would skew the quantization
// ranges, so it is an error instead.
inline std::vector<std::int64_t> balanced_subset(const Tensor& labels, int per_class,
                                                 int num_classes = 10) {
  check(labels.dtype() == DType::u8 && labels.shape().rank() == 1,
        "balanced_subset: expected uint8 labels N, got ", labels.dtype(), " ", labels.shape());
  check(per_class >= 0 && num_classes > 0 && num_classes <= 256, "balanced_subset: per_class ",
        per_class, " and num_classes ", num_classes, " are out of range");
  const std::span<const std::uint8_t> y = labels.span<std::uint8_t>();
  std::vector<int> taken(static_cast<std::size_t>(num_classes), 0);
  std::vector<std::int64_t> picked;
  picked.reserve(static_cast<std::size_t>(per_class) * static_cast<std::size_t>(num_classes));
  for (std::size_t i = 0; i < y.size(); ++i) {
    check(y[i] < num_classes, "balanced_subset: label ", i, " is ", int{y[i]}, ", not below ",
          num_classes);
    int& k = taken[y[i]];
    if (k < per_class) {
      ++k;
      picked.push_back(static_cast<std::int64_t>(i));
    }
  }
  for (int c = 0; c < num_classes; ++c) {
    const int n = taken[static_cast<std::size_t>(c)];
    check(n == per_class, "balanced_subset: class ", c, " has ", n, " examples, fewer than the ",
          per_class, " asked for");
  }
  return picked;
}

}  // namespace qnn::io
