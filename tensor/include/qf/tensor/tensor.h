// Tensor: a plain n-dimensional array of float32 or float64 in contiguous row-major storage.
//
// A Tensor is a cheap handle: copies share storage (like a shared_ptr). Views along the first axis
// (slice, operator[]) and reshape share storage too; clone() makes an independent copy. There is no
// autodiff here: see autodiff.h for the graph built on top of Tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace qf {

enum class DType : std::uint8_t { f32, f64 };
enum class Device : std::uint8_t { cpu, cuda };

using Shape = std::vector<std::int64_t>;

std::string to_string(const Shape& shape);
std::string to_string(DType dtype);
std::string to_string(Device device);
std::size_t dtype_size(DType dtype);
std::int64_t shape_numel(const Shape& shape);

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}

// Raised for shape, dtype and device mismatches; the message names both sides.
class ShapeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Owns one allocation: host memory from the caching HostAllocator, or CUDA device memory from the
// caching device allocator (qf/tensor/cuda.h). Host code never dereferences device pointers.
class Storage {
 public:
  Storage(std::size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  std::byte* data() { return data_; }
  const std::byte* data() const { return data_; }
  std::size_t size_bytes() const { return size_; }
  Device device() const { return device_; }

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  Device device_ = Device::cpu;
};

// Reuses freed large host blocks of the same size: a training loop allocates the same buffers every
// step, and fresh pages from the OS cost page faults. Thread-safe. The instance lives until the
// process ends (never destroyed), so tensors in static objects may be freed at any time.
class HostAllocator {
 public:
  static HostAllocator& instance();
  std::byte* allocate(std::size_t bytes);
  void release(std::byte* block, std::size_t bytes) noexcept;
  void empty_cache();  // returns every cached block to the system
  std::size_t cached_bytes() const;
  void set_cache_limit(std::size_t bytes);  // default 1 GiB; blocks beyond it are freed at once

 private:
  HostAllocator() = default;
  mutable std::mutex mutex_;
  std::multimap<std::size_t, std::byte*> free_blocks_;  // by rounded size
  std::size_t cached_ = 0;
  std::size_t limit_ = std::size_t{1} << 30;
};

class Tensor {
 public:
  Tensor() = default;

  // Factories. Memory from empty() is uninitialised.
  static Tensor empty(Shape shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(Shape shape, DType dtype = DType::f32);
  static Tensor full(Shape shape, double value, DType dtype = DType::f32);
  static Tensor zeros_like(const Tensor& other) { return zeros(other.shape(), other.dtype()); }
  template <class T>
  static Tensor from(std::span<const T> values, Shape shape);
  template <class T>
  static Tensor from(std::initializer_list<T> values, Shape shape) {
    return from<T>(std::span<const T>(values.begin(), values.size()), std::move(shape));
  }

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  std::int64_t dim(int axis) const;  // negative axes count from the end
  std::int64_t numel() const { return shape_numel(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }

  template <class T>
  T* data() {
    check_dtype(dtype_of<T>());
    return reinterpret_cast<T*>(raw()) + offset_;
  }
  template <class T>
  const T* data() const {
    check_dtype(dtype_of<T>());
    return reinterpret_cast<const T*>(raw()) + offset_;
  }
  template <class T>
  std::span<T> span() {
    return {data<T>(), static_cast<std::size_t>(numel())};
  }
  template <class T>
  std::span<const T> span() const {
    return {data<T>(), static_cast<std::size_t>(numel())};
  }

  // Views sharing storage.
  Tensor slice(std::int64_t begin, std::int64_t end) const;  // rows [begin, end) of axis 0
  Tensor operator[](std::int64_t index) const;               // row `index`, first axis removed
  Tensor reshape(Shape shape) const;                         // one axis may be -1

  // Copies.
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;        // a copy on that device (host <-> CUDA through qf/tensor/cuda.h)
  void copy_from(const Tensor& source);  // same shape, any dtype

  void fill(double value);
  Tensor& add_(const Tensor& other);  // in place, same shape (and dtype)
  double item() const;                // the single element, as double
  double at(std::initializer_list<std::int64_t> index) const;
  bool shares_storage_with(const Tensor& other) const { return storage_ == other.storage_; }
  // True when no other Tensor (view or copy) refers to this storage.
  bool owns_storage_alone() const { return storage_.use_count() == 1; }

 private:
  std::byte* raw() const;
  void check_dtype(DType expected) const;
  void require_cpu(const char* what) const;  // host-side element access on a device tensor is an error

  std::shared_ptr<Storage> storage_;
  std::int64_t offset_ = 0;  // in elements
  Shape shape_;
  DType dtype_ = DType::f32;
  Device device_ = Device::cpu;
};

// Calls f.template operator()<T>() with T = float or double matching dtype.
template <class F>
decltype(auto) dispatch(DType dtype, F&& f) {
  if (dtype == DType::f64) return f.template operator()<double>();
  return f.template operator()<float>();
}

// Numerically compares two tensors: max over elements of |a-b| / max(|a|, |b|, floor).
double max_relative_error(const Tensor& a, const Tensor& b, double floor = 1e-8);

}  // namespace qf
