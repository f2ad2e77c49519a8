// Tests of the IDX reader and the Fashion-MNIST helpers (include/qnn/io/idx.hpp).
//
//   format        hand-made IDX bytes of every supported type (big-endian elements), 0-d files,
//                 and each kind of malformed file; gzip detected by magic, not by name
//   real data     the Fashion-MNIST train and t10k files load with the shapes, label sums and
//                 spot-checked pixels that Python/NumPy read from the same files; the calibration
//                 subset (first 700 of each class) matches NumPy's selection
//   helpers       images_to_float is exactly p / 255.0f; balanced_subset and load_fashion_mnist
//                 refuse what would silently skew the example
#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "io_test_util.hpp"
#include "qnn/io/idx.hpp"

namespace {

using namespace qnn_io_test;
using qnn::DType;
using qnn::Shape;
using qnn::Tensor;
namespace io = qnn::io;

// An IDX file: header for `type` and `dims`, then `data` verbatim.
Bytes idx_bytes(int type, std::initializer_list<std::uint32_t> dims, const Bytes& data) {
  Bytes b = bytes_of({0, 0, type, static_cast<int>(dims.size())});
  for (std::uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::byte>((d >> s) & 0xFF));
  }
  return concat(b, data);
}

std::string idx_error(const Bytes& b) {
  return error_of([&] { io::parse_idx(b, "case.idx"); });
}

}  // namespace

TEST_CASE("idx: every supported type, big-endian elements to host order") {
  const Tensor u8 = io::parse_idx(idx_bytes(0x08, {2, 3}, bytes_of({0, 1, 2, 253, 254, 255})), "x");
  CHECK(u8.dtype() == DType::u8);
  CHECK(u8.shape() == Shape{2, 3});
  CHECK(std::vector(u8.span<std::uint8_t>().begin(), u8.span<std::uint8_t>().end()) ==
        std::vector<std::uint8_t>{0, 1, 2, 253, 254, 255});
  const Tensor i8 = io::parse_idx(idx_bytes(0x09, {2}, bytes_of({0x80, 0x7F})), "x");
  CHECK(i8.span<std::int8_t>()[0] == -128);
  CHECK(i8.span<std::int8_t>()[1] == 127);
  const Tensor i16 = io::parse_idx(idx_bytes(0x0B, {2}, bytes_of({0x80, 0x00, 0x01, 0x02})), "x");
  CHECK(i16.span<std::int16_t>()[0] == -32768);
  CHECK(i16.span<std::int16_t>()[1] == 0x0102);
  const Tensor i32 = io::parse_idx(idx_bytes(0x0C, {1}, bytes_of({0xFF, 0xFF, 0xFF, 0xFE})), "x");
  CHECK(i32.span<std::int32_t>()[0] == -2);
  const Tensor f32 = io::parse_idx(idx_bytes(0x0D, {1, 1}, bytes_of({0x3F, 0xC0, 0, 0})), "x");
  CHECK(f32.span<float>()[0] == 1.5f);
  // No dimensions: one element; a zero dimension: no data.
  CHECK(io::parse_idx(idx_bytes(0x08, {}, bytes_of({42})), "x").span<std::uint8_t>()[0] == 42);
  CHECK(io::parse_idx(idx_bytes(0x0C, {0, 5}, {}), "x").numel() == 0);
}

TEST_CASE("idx: malformed files are errors naming the source and the counts") {
  CHECK(idx_error(bytes_of({0, 1, 8, 1})).find("case.idx: not an IDX file") != std::string::npos);
  CHECK(idx_error(bytes_of({0, 0, 8})).find("not an IDX file") != std::string::npos);
  CHECK(idx_error(idx_bytes(0x0E, {1}, Bytes(8))).find("type 0x0E (float64) is not supported") !=
        std::string::npos);
  CHECK(idx_error(idx_bytes(0x0A, {1}, Bytes(1))).find("type byte 0xa is not one of") !=
        std::string::npos);
  CHECK(idx_error(bytes_of({0, 0, 8, 9})).find("declares 9 dimensions, at most 8") !=
        std::string::npos);
  CHECK(idx_error(bytes_of({0, 0, 8, 3, 0, 0, 0, 1})).find(
            "truncated IDX header: 3 dimensions need 16 bytes, the file has 8") != std::string::npos);
  const std::string cut = idx_error(idx_bytes(0x08, {10, 28, 28}, Bytes(7000)));
  CHECK_MESSAGE(cut.find("case.idx: IDX data is truncated: dimensions [10,28,28] need 7840 elements "
                         "of 1 bytes, the file has 7000 bytes after the 16-byte header") !=
                    std::string::npos,
                cut);
  const std::string cut16 = idx_error(idx_bytes(0x0B, {3}, Bytes(5)));
  CHECK_MESSAGE(cut16.find("need 3 elements of 2 bytes, the file has 5 bytes") != std::string::npos,
                cut16);
  CHECK(idx_error(idx_bytes(0x08, {2}, Bytes(3))).find("1 trailing bytes after the 2 data bytes") !=
        std::string::npos);
  // Dimensions whose product overflows, and a huge claim against a tiny file: no allocation.
  CHECK(idx_error(idx_bytes(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {})).find("more elements") !=
        std::string::npos);
  // An empty tensor whose other dimensions overflow int64 (tests/fuzz/regressions/fuzz_idx): its
  // strides would overflow in every view of it.
  CHECK(idx_error(idx_bytes(0x08, {0, 0xF6FFFFFF, 0xFFFFFFFF}, {})).find("more elements") != std::string::npos);
  CHECK(idx_error(idx_bytes(0x0C, {0xFFFFFFFF, 0xFFFF}, Bytes(4))).find("truncated") !=
        std::string::npos);
}

TEST_CASE("idx: load_idx gunzips by magic; a .gz name on plain data is an error") {
  TempDir dir;
  const Bytes plain = idx_bytes(0x08, {2, 2}, bytes_of({1, 2, 3, 4}));
  write_bytes(dir / "a-idx", plain);
  write_bytes(dir / "b-idx.gz", gzip(plain));
  write_bytes(dir / "c-idx", gzip(plain));  // gzip without the .gz name: still detected
  write_bytes(dir / "d-idx.gz", plain);
  for (const char* name : {"a-idx", "b-idx.gz", "c-idx"}) {
    CAPTURE(name);
    const Tensor t = io::load_idx(dir / name);
    CHECK(t.shape() == Shape{2, 2});
    CHECK(t.span<std::uint8_t>()[3] == 4);
  }
  const std::string not_gz = error_of([&] { io::load_idx(dir / "d-idx.gz"); });
  CHECK_MESSAGE(not_gz.find("d-idx.gz': the name ends in .gz but the data is not gzip") !=
                    std::string::npos,
                not_gz);
  // A corrupt gzip file: the gzip error, prefixed with the file.
  Bytes bad = gzip(plain);
  bad[bad.size() - 6] ^= std::byte{1};
  write_bytes(dir / "e-idx.gz", bad);
  const std::string crc = error_of([&] { io::load_idx(dir / "e-idx.gz"); });
  CHECK_MESSAGE(crc.find("e-idx.gz': gzip: CRC-32 mismatch") != std::string::npos, crc);
  // A truncated dataset inside a valid gzip file.
  write_bytes(dir / "f-idx.gz", gzip(idx_bytes(0x08, {3, 2}, bytes_of({1, 2, 3}))));
  const std::string cut = error_of([&] { io::load_idx(dir / "f-idx.gz"); });
  CHECK_MESSAGE(cut.find("f-idx.gz': IDX data is truncated") != std::string::npos, cut);
  CHECK(error_of([&] { io::load_idx(dir / "missing"); }).find("cannot open") != std::string::npos);
}

TEST_CASE("idx: load_fashion_mnist checks the pair of files") {
  TempDir dir;
  const auto images = [](std::uint32_t n) {
    Bytes px(n * 4);
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::byte>(i);
    return idx_bytes(0x08, {n, 2, 2}, px);
  };
  write_bytes(dir / "train-images-idx3-ubyte", images(3));
  write_bytes(dir / "train-labels-idx1-ubyte.gz", gzip(idx_bytes(0x08, {3}, bytes_of({7, 0, 9}))));
  const io::IdxDataset ds = io::load_fashion_mnist(dir.path(), "train");
  CHECK(ds.images.shape() == Shape{3, 2, 2});
  CHECK(ds.labels.span<std::uint8_t>()[2] == 9);

  CHECK(error_of([&] { io::load_fashion_mnist(dir.path(), "val"); })
            .find("split 'val' is neither 'train' nor 't10k'") != std::string::npos);
  const std::string missing = error_of([&] { io::load_fashion_mnist(dir.path(), "t10k"); });
  CHECK_MESSAGE(missing.find("t10k-images-idx3-ubyte' nor '") != std::string::npos, missing);
  CHECK(missing.find("t10k-images-idx3-ubyte.gz' exists") != std::string::npos);

  write_bytes(dir / "t10k-images-idx3-ubyte", images(2));
  write_bytes(dir / "t10k-labels-idx1-ubyte", idx_bytes(0x08, {3}, bytes_of({1, 2, 3})));
  const std::string count = error_of([&] { io::load_fashion_mnist(dir.path(), "t10k"); });
  CHECK_MESSAGE(count.find("2 images in '") != std::string::npos, count);
  CHECK(count.find("but 3 labels in '") != std::string::npos);
  write_bytes(dir / "t10k-labels-idx1-ubyte", idx_bytes(0x08, {2}, bytes_of({1, 10})));
  const std::string label = error_of([&] { io::load_fashion_mnist(dir.path(), "t10k"); });
  CHECK_MESSAGE(label.find("t10k-labels-idx1-ubyte': label 1 is 10, not a class 0..9") !=
                    std::string::npos,
                label);
  write_bytes(dir / "t10k-labels-idx1-ubyte", idx_bytes(0x0C, {2}, Bytes(8)));
  CHECK(error_of([&] { io::load_fashion_mnist(dir.path(), "t10k"); })
            .find("expected uint8 labels N, got int32 [2]") != std::string::npos);
}

TEST_CASE("idx: images_to_float is exactly p / 255.0f, and balanced_subset picks in file order") {
  Bytes all(256);
  for (std::size_t i = 0; i < 256; ++i) all[i] = static_cast<std::byte>(i);
  const Tensor px = io::parse_idx(idx_bytes(0x08, {4, 8, 8}, all), "x");
  const Tensor f = io::images_to_float(px, 1, 2);
  CHECK(f.shape() == Shape{2, 1, 8, 8});
  const auto v = f.span<float>();
  for (std::size_t i = 0; i < v.size(); ++i) {
    CHECK(std::bit_cast<std::uint32_t>(v[i]) ==
          std::bit_cast<std::uint32_t>(static_cast<float>(64 + i) / 255.0f));
  }
  CHECK(v[191 - 64] == 191.0f / 255.0f);
  CHECK(io::images_to_float(px, 4, 0).numel() == 0);
  CHECK(error_of([&] { io::images_to_float(px, 3, 2); }).find("images [3, 3 + 2) are not within the 4") !=
        std::string::npos);
  CHECK_THROWS_AS(io::images_to_float(px, -1, 1), qnn::error);
  CHECK(error_of([&] { io::images_to_float(f, 0, 1); }).find("expected uint8 images") !=
        std::string::npos);

  const Tensor labels = Tensor::from<std::uint8_t>(Shape{9}, {1, 0, 1, 2, 0, 0, 1, 2, 2});
  CHECK(io::balanced_subset(labels, 2, 3) == std::vector<std::int64_t>{0, 1, 2, 3, 4, 7});
  CHECK(io::balanced_subset(labels, 0, 3).empty());
  CHECK(error_of([&] { io::balanced_subset(labels, 4, 3); })
            .find("class 0 has 3 examples, fewer than the 4 asked for") != std::string::npos);
  CHECK(error_of([&] { io::balanced_subset(labels, 1, 2); }).find("label 3 is 2, not below 2") !=
        std::string::npos);
}

TEST_CASE("idx: the Fashion-MNIST files load with the values Python reads") {
  if (!fs::exists(kFashionDir / "train-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: Fashion-MNIST not installed in ", kFashionDir.string());
    return;
  }
  // Expected values: computed with NumPy from gzip.open(path).read() of the same files when this
  // test was written, and pinned here.
  const io::IdxDataset test = io::load_fashion_mnist(kFashionDir, "t10k");
  CHECK(test.images.shape() == Shape{10000, 28, 28});
  CHECK(test.labels.shape() == Shape{10000});
  const auto ty = test.labels.span<std::uint8_t>();
  CHECK(std::vector(ty.begin(), ty.begin() + 12) ==
        std::vector<std::uint8_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5});
  CHECK(std::accumulate(ty.begin(), ty.end(), std::int64_t{0}) == 45000);
  const auto tx = test.images.view<std::uint8_t>();
  CHECK(tx(0, 14, 14) == 110);
  CHECK(tx(1, 14, 14) == 234);
  CHECK(tx(2345, 14, 10) == 202);
  CHECK(tx(9999, 14, 14) == 132);
  CHECK(tx(500, 14, 13) == 158);
  const auto tpx = test.images.span<std::uint8_t>();
  CHECK(std::accumulate(tpx.begin(), tpx.end(), std::int64_t{0}) == 573469082);

  const io::IdxDataset train = io::load_fashion_mnist(kFashionDir, "train");
  CHECK(train.images.shape() == Shape{60000, 28, 28});
  const auto y = train.labels.span<std::uint8_t>();
  CHECK(std::vector(y.begin(), y.begin() + 12) ==
        std::vector<std::uint8_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9});
  CHECK(y.back() == 5);
  CHECK(std::accumulate(y.begin(), y.end(), std::int64_t{0}) == 270000);
  const auto x = train.images.view<std::uint8_t>();
  CHECK(x(0, 14, 14) == 217);
  CHECK(x(0, 5, 20) == 23);
  CHECK(x(1, 10, 10) == 252);
  CHECK(x(12345, 20, 7) == 191);
  CHECK(x(30000, 14, 14) == 218);
  CHECK(x(59999, 10, 12) == 1);
  const auto px = train.images.span<std::uint8_t>();
  CHECK(std::accumulate(px.begin(), px.end(), std::int64_t{0}) == 3431114169);

  // The example's calibration set: the first 700 of each class, in file order.
  const std::vector<std::int64_t> calib = io::balanced_subset(train.labels, 700);
  CHECK(calib.size() == 7000);
  CHECK(std::is_sorted(calib.begin(), calib.end()));
  CHECK(std::vector(calib.begin(), calib.begin() + 5) == std::vector<std::int64_t>{0, 1, 2, 3, 4});
  CHECK(std::vector(calib.end() - 3, calib.end()) == std::vector<std::int64_t>{7394, 7395, 7403});
  CHECK(std::accumulate(calib.begin(), calib.end(), std::int64_t{0}) == 24528957);

  const Tensor f = io::images_to_float(train.images, 0, 2);
  CHECK(f.shape() == Shape{2, 1, 28, 28});
  CHECK(std::bit_cast<std::uint32_t>(f.view<float>()(0, 0, 14, 14)) == 1062853082u);  // 217/255
}
