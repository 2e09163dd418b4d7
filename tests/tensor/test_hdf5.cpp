#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/temp_path.h"
#include "qf/tensor/hdf5.h"

using namespace qf;
namespace fs = std::filesystem;

using test_support::temp_path;

TEST(Hdf5, RoundTripTensorsStringsAndAttributes) {
  const fs::path path = temp_path("roundtrip.h5");
  const Tensor a = Tensor::from<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = Tensor::from<double>({0.5, -0.25}, {2});
  {
    h5::File f(path, h5::File::Mode::create);
    f.write("/group/sub/a", a, 4);
    f.write("/b", b);
    f.write_strings("/names", {"AAPL", "MSFT", "ÄÖ"});
    f.set_attr("/group", "note", std::string("hello"));
    f.set_attr("/b", "scale", 2.5);
    f.set_attr("/", "count", std::int64_t{42});
  }
  const h5::File f(path, h5::File::Mode::read);
  EXPECT_EQ(max_relative_error(f.read("/group/sub/a"), a), 0.0);
  EXPECT_EQ(f.read("/group/sub/a").dtype(), DType::f32);
  EXPECT_EQ(f.read("/b").dtype(), DType::f64);
  EXPECT_EQ(f.read_strings("/names"), (std::vector<std::string>{"AAPL", "MSFT", "ÄÖ"}));
  EXPECT_EQ(f.attr_string("/group", "note"), "hello");
  EXPECT_DOUBLE_EQ(f.attr_double("/b", "scale"), 2.5);
  EXPECT_EQ(f.attr_int("/", "count"), 42);
  EXPECT_EQ(f.list("/"), (std::vector<std::string>{"b", "group", "names"}));
  EXPECT_TRUE(f.exists("/group/sub/a"));
  EXPECT_FALSE(f.exists("/group/none/a"));
  EXPECT_THROW(f.read("/missing"), std::runtime_error);
  fs::remove(path);
}

// libhdf5 trusts the global heap that variable-length strings live in (fuzz_store found a read out of
// bounds); read_strings checks every reference first. A file without our checksum (as h5py writes them)
// with a damaged heap collection must give an error naming the file and dataset, not a crash.
TEST(Hdf5, CorruptStringHeapGivesAClearError) {
  const fs::path path = temp_path("heap.h5");
  auto damaged = [&](auto&& damage) {
    {
      h5::File f(path, h5::File::Mode::create);
      f.write_strings("/tickers", {"AAPL", "MSFT", "a longer name than the others"});
    }
    std::string bytes;
    {
      std::ifstream in(path, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::fill_n(bytes.begin(), 64, '\0');  // no checksum: the file then reads as a foreign one
    const std::size_t heap = bytes.find("GCOL");
    EXPECT_NE(heap, std::string::npos);
    damage(bytes, heap);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  };
  auto expect_error = [&](const char* why) {
    try {
      h5::File f(path, h5::File::Mode::read);
      f.read_strings("/tickers");
      FAIL() << why;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("/tickers"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("heap"), std::string::npos) << e.what();
    }
  };
  damaged([](std::string&, std::size_t) {});  // undamaged: reads back
  {
    h5::File f(path, h5::File::Mode::read);
    EXPECT_EQ(f.read_strings("/tickers").back(), "a longer name than the others");
  }
  damaged([](std::string& b, std::size_t heap) { b[heap] = 'X'; });
  expect_error("signature");
  damaged([](std::string& b, std::size_t heap) { b[heap + 14] = '\x7f'; });  // collection size > file
  expect_error("collection size");
  damaged([](std::string& b, std::size_t heap) { b[heap + 16 + 14] = '\x7f'; });  // first object's size
  expect_error("object size");
  fs::remove(path);
}

TEST(Hdf5, ForeignAndTruncatedFilesGiveClearErrors) {
  const fs::path foreign = temp_path("foreign.h5");
  std::ofstream(foreign) << "date,open,close\n2020-01-01,1,2\n";
  try {
    h5::File f(foreign, h5::File::Mode::read);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(foreign.string()), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("not an HDF5 file"), std::string::npos);
  }
  const fs::path good = temp_path("truncate.h5");
  {
    h5::File f(good, h5::File::Mode::create);
    f.write("/x", Tensor::full({1000}, 1.0));
  }
  fs::resize_file(good, fs::file_size(good) / 2);
  EXPECT_THROW(
      {
        h5::File f(good, h5::File::Mode::read);
        f.read("/x");
      },
      std::runtime_error);
  fs::remove(foreign);
  fs::remove(good);
}

TEST(Hdf5, AtomicWriteLeavesOldFileOnFailure) {
  const fs::path path = temp_path("atomic.h5");
  h5::write_atomically(path, [](h5::File& f) { f.write("/v", Tensor::full({3}, 1.0)); });
  EXPECT_THROW(h5::write_atomically(path,
                                    [](h5::File& f) {
                                      f.write("/v", Tensor::full({3}, 2.0));
                                      throw std::runtime_error("interrupted");
                                    }),
               std::runtime_error);
  const h5::File f(path, h5::File::Mode::read);
  EXPECT_EQ(f.read("/v").at({0}), 1.0);
  for (const auto& entry : fs::directory_iterator(path.parent_path()))
    EXPECT_EQ(entry.path().string().find(path.string() + ".tmp"), std::string::npos) << entry.path();
  fs::remove(path);
}
