// A small RAII layer over the HDF5 C API: files, tensors as datasets, scalar and string attributes.
// Paths inside a file use '/' and intermediate groups are created on write. Errors throw
// std::runtime_error naming the file and the object.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "qf/tensor/tensor.h"

namespace qf::h5 {

class File {
 public:
  enum class Mode { read, create };  // create truncates
  File(const std::filesystem::path& path, Mode mode);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::filesystem::path& path() const { return path_; }
  void close();  // flushes and closes; throws when HDF5 cannot finish the file (e.g. disk full)
  bool exists(const std::string& object) const;
  std::vector<std::string> list(const std::string& group) const;  // member names, sorted
  void create_group(const std::string& group);                    // with any missing parents

  // Tensors (float32/float64). compression: 0 = contiguous; 1-9 = chunked, shuffled and deflated at
  // that zlib level (1 is several times faster than 4 for a few percent more bytes).
  void write(const std::string& dataset, const Tensor& tensor, int compression = 0);
  Tensor read(const std::string& dataset) const;
  void write_strings(const std::string& dataset, const std::vector<std::string>& values);
  // Byte arrays (masks, flags) of the given shape, stored as uint8.
  void write_bytes(const std::string& dataset, std::span<const std::uint8_t> values, const Shape& shape,
                   int compression = 0);
  std::vector<std::uint8_t> read_bytes(const std::string& dataset, Shape* shape = nullptr) const;
  std::vector<std::string> read_strings(const std::string& dataset) const;

  // Attributes on a group or dataset ("/" is the root).
  void set_attr(const std::string& object, const std::string& name, const std::string& value);
  void set_attr(const std::string& object, const std::string& name, double value);
  void set_attr(const std::string& object, const std::string& name, std::int64_t value);
  std::string attr_string(const std::string& object, const std::string& name) const;
  double attr_double(const std::string& object, const std::string& name) const;
  std::int64_t attr_int(const std::string& object, const std::string& name) const;
  bool has_attr(const std::string& object, const std::string& name) const;
  std::vector<std::string> attr_names(const std::string& object) const;  // sorted

 private:
  void ensure_parent_groups(const std::string& object);
  [[noreturn]] void fail(const std::string& what, const std::string& object) const;
  std::filesystem::path path_;
  std::int64_t id_ = -1;
};

// Writes `path` atomically: `write` fills a temporary file beside it, which is renamed over `path`
// only when `write` returns; on an exception the temporary is removed and `path` is untouched. The file
// carries a checksum of its content in its HDF5 user block (the first 512 bytes, which HDF5 skips):
// "QFSUM1 <16 hex digits of fnv1a over the bytes after the block>\n".
void write_atomically(const std::filesystem::path& path, const std::function<void(File&)>& write);

// Whether a file carries that checksum and whether it matches. File(path, Mode::read) refuses a
// mismatch, so that a corrupted or truncated file is an error naming it and never reaches libhdf5's
// parser (which can hang on a damaged heap: found by tests/fuzz/fuzz_store). Results are cached per
// path, size and modification time.
enum class Checksum { absent, valid, mismatch };
Checksum verify_checksum(const std::filesystem::path& path);

}  // namespace qf::h5
