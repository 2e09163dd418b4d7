#include "qf/tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "qf/tensor/cuda.h"

namespace qf {

std::string to_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

std::string to_string(DType dtype) {
  return dtype == DType::f32 ? "float32" : "float64";
}
std::string to_string(Device device) {
  return device == Device::cpu ? "cpu" : "cuda";
}
std::size_t dtype_size(DType dtype) {
  return dtype == DType::f32 ? 4 : 8;
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// ---- Storage and HostAllocator --------------------------------------------------------------------

namespace {
constexpr std::size_t kAlignment = 64;                 // one cache line; enough for AVX-512 loads
constexpr std::size_t kSmallestCachedBlock = 1 << 16;  // malloc serves smaller blocks well

std::size_t rounded_size(std::size_t bytes) {
  return (std::max<std::size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
}
}  // namespace

HostAllocator& HostAllocator::instance() {
  // Deliberately never destroyed: Storage may be released during static destruction.
  static HostAllocator& allocator = *std::unique_ptr<HostAllocator>(new HostAllocator).release();
  return allocator;
}

std::byte* HostAllocator::allocate(std::size_t bytes) {
  const std::size_t size = rounded_size(bytes);
  if (size >= kSmallestCachedBlock) {
    std::lock_guard lock(mutex_);
    if (auto it = free_blocks_.find(size); it != free_blocks_.end()) {
      std::byte* block = it->second;
      free_blocks_.erase(it);
      cached_ -= size;
      return block;
    }
  }
  auto* block = static_cast<std::byte*>(std::aligned_alloc(kAlignment, size));
  if (!block) throw std::bad_alloc();
  return block;
}

void HostAllocator::release(std::byte* block, std::size_t bytes) noexcept {
  const std::size_t size = rounded_size(bytes);
  if (size >= kSmallestCachedBlock) {
    std::lock_guard lock(mutex_);
    if (cached_ + size <= limit_) {
      free_blocks_.emplace(size, block);
      cached_ += size;
      return;
    }
  }
  std::free(block);
}

void HostAllocator::empty_cache() {
  std::lock_guard lock(mutex_);
  for (auto& [size, block] : free_blocks_) std::free(block);
  free_blocks_.clear();
  cached_ = 0;
}

std::size_t HostAllocator::cached_bytes() const {
  std::lock_guard lock(mutex_);
  return cached_;
}

void HostAllocator::set_cache_limit(std::size_t bytes) {
  {
    std::lock_guard lock(mutex_);
    limit_ = bytes;
  }
  if (cached_bytes() > bytes) empty_cache();
}

Storage::Storage(std::size_t bytes, Device device) : size_(bytes), device_(device) {
  data_ = device == Device::cuda ? cuda::allocate(bytes) : HostAllocator::instance().allocate(bytes);
}

Storage::~Storage() {
  if (device_ == Device::cuda) {
    cuda::release(data_, size_);
  } else {
    HostAllocator::instance().release(data_, size_);
  }
}

// ---- Tensor ----------------------------------------------------------------------------------------

Tensor Tensor::empty(Shape shape, DType dtype, Device device) {
  for (auto d : shape)
    if (d < 0) throw ShapeError("Tensor::empty: negative dimension in shape " + to_string(shape));
  Tensor t;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::make_shared<Storage>(static_cast<std::size_t>(t.numel()) * dtype_size(dtype), device);
  return t;
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  return full(std::move(shape), 0.0, dtype);
}

Tensor Tensor::full(Shape shape, double value, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  t.fill(value);
  return t;
}

template <class T>
Tensor Tensor::from(std::span<const T> values, Shape shape) {
  if (shape_numel(shape) != static_cast<std::int64_t>(values.size()))
    throw ShapeError("Tensor::from: " + std::to_string(values.size()) + " values do not fill shape " +
                     to_string(shape));
  Tensor t = empty(std::move(shape), dtype_of<T>());
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}
template Tensor Tensor::from<float>(std::span<const float>, Shape);
template Tensor Tensor::from<double>(std::span<const double>, Shape);

std::int64_t Tensor::dim(int axis) const {
  const int r = rank();
  const int a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r)
    throw ShapeError("Tensor::dim: axis " + std::to_string(axis) + " out of range for shape " +
                     to_string(shape_));
  return shape_[static_cast<std::size_t>(a)];
}

std::byte* Tensor::raw() const {
  if (!storage_) throw std::logic_error("Tensor: access to an undefined tensor");
  return storage_->data();
}

void Tensor::require_cpu(const char* what) const {
  if (device_ != Device::cpu)
    throw std::invalid_argument(std::string("Tensor::") + what + ": needs a CPU tensor, this one is on " +
                                to_string(device_) + " (copy it with to(Device::cpu))");
}

void Tensor::check_dtype(DType expected) const {
  if (dtype_ != expected)
    throw ShapeError("Tensor: data requested as " + to_string(expected) + " but tensor is " +
                     to_string(dtype_));
}

Tensor Tensor::slice(std::int64_t begin, std::int64_t end) const {
  if (rank() == 0 || begin < 0 || end > shape_[0] || begin > end)
    throw ShapeError("Tensor::slice: rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") out of range for shape " + to_string(shape_));
  Tensor view = *this;
  view.offset_ += begin * (numel() / std::max<std::int64_t>(shape_[0], 1));
  view.shape_[0] = end - begin;
  return view;
}

Tensor Tensor::operator[](std::int64_t index) const {
  Tensor view = slice(index, index + 1);
  view.shape_.erase(view.shape_.begin());
  return view;
}

Tensor Tensor::reshape(Shape shape) const {
  std::int64_t known = 1;
  int inferred = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1 && inferred < 0) {
      inferred = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0 && known > 0) shape[static_cast<std::size_t>(inferred)] = numel() / known;
  if (shape_numel(shape) != numel())
    throw ShapeError("Tensor::reshape: cannot view shape " + to_string(shape_) + " as " + to_string(shape));
  Tensor view = *this;
  view.shape_ = std::move(shape);
  return view;
}

Tensor Tensor::clone() const {
  if (device_ != Device::cpu) return to(device_);
  Tensor out = empty(shape_, dtype_, device_);
  out.copy_from(*this);
  return out;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return clone();
  Tensor out = empty(shape_, dtype, device_);
  out.copy_from(*this);
  return out;
}

Tensor Tensor::to(Device device) const {
  Tensor out = empty(shape_, dtype_, device);
  const std::size_t bytes = static_cast<std::size_t>(numel()) * dtype_size(dtype_);
  if (bytes == 0) return out;
  const std::byte* from = raw() + offset_ * static_cast<std::int64_t>(dtype_size(dtype_));
  std::byte* to = out.raw();
  if (device_ == Device::cpu && device == Device::cpu) {
    std::copy_n(from, bytes, to);
  } else {
    cuda::copy(to, from, bytes,
               device_ == Device::cpu  ? cuda::CopyKind::host_to_device
               : device == Device::cpu ? cuda::CopyKind::device_to_host
                                       : cuda::CopyKind::device_to_device);
  }
  return out;
}

void Tensor::copy_from(const Tensor& source) {
  require_cpu(__func__);
  source.require_cpu(__func__);
  if (source.shape_ != shape_)
    throw ShapeError("Tensor::copy_from: shape " + to_string(source.shape_) + " into " + to_string(shape_));
  dispatch(dtype_, [&]<class D>() {
    dispatch(source.dtype_, [&]<class S>() {
      const S* s = source.data<S>();
      D* d = data<D>();
      std::transform(s, s + numel(), d, [](S v) { return static_cast<D>(v); });
    });
  });
}

void Tensor::fill(double value) {
  require_cpu(__func__);
  dispatch(dtype_, [&]<class T>() { std::fill_n(data<T>(), numel(), static_cast<T>(value)); });
}

Tensor& Tensor::add_(const Tensor& other) {
  require_cpu(__func__);
  other.require_cpu(__func__);
  if (other.shape_ != shape_ || other.dtype_ != dtype_)
    throw ShapeError("Tensor::add_: " + to_string(other.shape_) + " " + to_string(other.dtype_) + " into " +
                     to_string(shape_) + " " + to_string(dtype_));
  dispatch(dtype_, [&]<class T>() {
    T* d = data<T>();
    const T* s = other.data<T>();
    for (std::int64_t i = 0; i < numel(); ++i) d[i] += s[i];
  });
  return *this;
}

double Tensor::item() const {
  require_cpu(__func__);
  if (numel() != 1)
    throw ShapeError("Tensor::item: tensor of shape " + to_string(shape_) + " is not a scalar");
  return dispatch(dtype_, [&]<class T>() { return static_cast<double>(*data<T>()); });
}

double Tensor::at(std::initializer_list<std::int64_t> index) const {
  require_cpu(__func__);
  if (static_cast<int>(index.size()) != rank())
    throw ShapeError("Tensor::at: " + std::to_string(index.size()) + " indices for shape " +
                     to_string(shape_));
  std::int64_t flat = 0;
  std::size_t axis = 0;
  for (auto i : index) {
    if (i < 0 || i >= shape_[axis])
      throw ShapeError("Tensor::at: index out of range for " + to_string(shape_));
    flat = flat * shape_[axis++] + i;
  }
  return dispatch(dtype_, [&]<class T>() { return static_cast<double>(data<T>()[flat]); });
}

double max_relative_error(const Tensor& a, const Tensor& b, double floor) {
  if (a.shape() != b.shape())
    throw ShapeError("max_relative_error: shapes " + to_string(a.shape()) + " and " + to_string(b.shape()));
  const Tensor a64 = a.to(DType::f64), b64 = b.to(DType::f64);
  const double* x = a64.data<double>();
  const double* y = b64.data<double>();
  double worst = 0.0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double scale = std::max({std::abs(x[i]), std::abs(y[i]), floor});
    const double err = std::abs(x[i] - y[i]) / scale;
    if (std::isnan(err)) return err;  // a NaN anywhere is never a pass
    worst = std::max(worst, err);
  }
  return worst;
}

}  // namespace qf
