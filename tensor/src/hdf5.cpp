#include "qf/tensor/hdf5.h"

#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

#include "qf/tensor/hash.h"

namespace qf::h5 {

namespace {

// Closes an HDF5 handle with the matching close function when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  Handle& operator=(Handle&&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// HDF5 prints its own error stack by default; we report errors through exceptions instead.
struct SilenceHdf5Errors {
  SilenceHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
const SilenceHdf5Errors silence_once;

hid_t native_type(DType dtype) {
  return dtype == DType::f32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
}

// The type of variable-length UTF-8 strings (what h5py writes and reads as str).
Handle utf8_string_type() {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  return type;
}

constexpr hsize_t kUserBlock = 512;  // bytes before the HDF5 superblock, for the checksum
constexpr char kChecksumMagic[] = "QFSUM1 ";

// Opens a group or dataset by path.
Handle open_object(hid_t file, const std::string& object) {
  return Handle(H5Oopen(file, object.c_str(), H5P_DEFAULT), H5Oclose);
}

}  // namespace

File::File(const std::filesystem::path& path, Mode mode) : path_(path) {
  if (mode == Mode::create) {
    Handle props(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
    H5Pset_userblock(props.get(), kUserBlock);
    id_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, props.get(), H5P_DEFAULT);
    if (id_ < 0) fail("cannot create file", "/");
  } else {
    if (!std::filesystem::exists(path)) fail("file does not exist", "/");
    if (verify_checksum(path) == Checksum::mismatch)
      fail("corrupt or truncated: its checksum does not match its content", "/");
    if (H5Fis_hdf5(path.c_str()) <= 0) fail("not an HDF5 file (truncated or foreign format)", "/");
    id_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id_ < 0) fail("cannot open file (truncated or corrupt?)", "/");
  }
}

File::~File() {
  if (id_ >= 0) H5Fclose(id_);
}

void File::close() {
  if (id_ < 0) return;
  const herr_t status = H5Fclose(id_);
  id_ = -1;
  if (status < 0) fail("cannot flush and close the file (disk full?)", "/");
}

void File::fail(const std::string& what, const std::string& object) const {
  throw std::runtime_error("HDF5 " + path_.string() + " [" + object + "]: " + what);
}

bool File::exists(const std::string& object) const {
  if (object == "/") return true;
  // Every prefix must exist for H5Lexists to be well defined.
  std::size_t pos = 0;
  while ((pos = object.find('/', pos + 1)) != std::string::npos) {
    if (H5Lexists(id_, object.substr(0, pos).c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return H5Lexists(id_, object.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> File::list(const std::string& group) const {
  Handle g(H5Gopen2(id_, group.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.ok()) fail("no such group", group);
  std::vector<std::string> names;
  H5Literate(
      g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
        static_cast<std::vector<std::string>*>(out)->emplace_back(name);
        return 0;
      },
      &names);
  std::sort(names.begin(), names.end());
  return names;
}

namespace {
// Creation properties without modification times (HDF5 records them by default): the same content
// then gives the same bytes, so that content hashes decide what is up to date.
Handle untimed(hid_t property_class) {
  Handle props(H5Pcreate(property_class), H5Pclose);
  H5Pset_obj_track_times(props.get(), 0);
  return props;
}
}  // namespace

void File::ensure_parent_groups(const std::string& object) {
  std::size_t pos = 0;
  while ((pos = object.find('/', pos + 1)) != std::string::npos) {
    const std::string prefix = object.substr(0, pos);
    if (H5Lexists(id_, prefix.c_str(), H5P_DEFAULT) > 0) continue;
    Handle g(H5Gcreate2(id_, prefix.c_str(), H5P_DEFAULT, untimed(H5P_GROUP_CREATE).get(), H5P_DEFAULT),
             H5Gclose);
    if (!g.ok()) fail("cannot create group", prefix);
  }
}

void File::create_group(const std::string& group) {
  if (exists(group)) return;
  ensure_parent_groups(group);
  Handle g(H5Gcreate2(id_, group.c_str(), H5P_DEFAULT, untimed(H5P_GROUP_CREATE).get(), H5P_DEFAULT),
           H5Gclose);
  if (!g.ok()) fail("cannot create group", group);
}

namespace {

// Dataset creation properties: chunked + shuffle + deflate when compressing. Chunks of whole trailing
// rows, about 64K elements, keep both row and column reads cheap.
Handle creation_properties(const std::vector<hsize_t>& dims, int compression) {
  Handle props = untimed(H5P_DATASET_CREATE);
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  if (compression > 0 && total > 0 && !dims.empty()) {
    std::vector<hsize_t> chunk = dims;
    hsize_t elements = 1;
    for (std::size_t i = 1; i < chunk.size(); ++i) elements *= chunk[i];
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], 65536 / std::max<hsize_t>(elements, 1)));
    H5Pset_chunk(props.get(), static_cast<int>(chunk.size()), chunk.data());
    H5Pset_shuffle(props.get());
    H5Pset_deflate(props.get(), static_cast<unsigned>(std::min(compression, 9)));
  }
  return props;
}

}  // namespace

void File::write_bytes(const std::string& dataset, std::span<const std::uint8_t> values, const Shape& shape,
                       int compression) {
  if (shape_numel(shape) != static_cast<std::int64_t>(values.size()))
    fail(std::to_string(values.size()) + " bytes do not fill shape " + to_string(shape), dataset);
  ensure_parent_groups(dataset);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  const Handle props = creation_properties(dims, compression);
  Handle ds(
      H5Dcreate2(id_, dataset.c_str(), H5T_NATIVE_UINT8, space.get(), H5P_DEFAULT, props.get(), H5P_DEFAULT),
      H5Dclose);
  if (!ds.ok()) fail("cannot create dataset", dataset);
  if (!values.empty() &&
      H5Dwrite(ds.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    fail("cannot write dataset", dataset);
}

std::vector<std::uint8_t> File::read_bytes(const std::string& dataset, Shape* shape) const {
  if (!exists(dataset)) fail("no such dataset", dataset);
  Handle ds(H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  if (shape) *shape = Shape(dims.begin(), dims.end());
  std::vector<std::uint8_t> out(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
  if (!out.empty() && H5Dread(ds.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    fail("cannot read dataset (truncated file?)", dataset);
  return out;
}

void File::write(const std::string& dataset, const Tensor& tensor, int compression) {
  ensure_parent_groups(dataset);
  std::vector<hsize_t> dims(tensor.shape().begin(), tensor.shape().end());
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  const Handle props = creation_properties(dims, compression);
  const hid_t type = native_type(tensor.dtype());
  Handle ds(H5Dcreate2(id_, dataset.c_str(), type, space.get(), H5P_DEFAULT, props.get(), H5P_DEFAULT),
            H5Dclose);
  if (!ds.ok()) fail("cannot create dataset", dataset);
  const Tensor contiguous = tensor;  // tensors are always contiguous; views carry an offset
  const void* data = dispatch(tensor.dtype(), [&]<class T>() -> const void* { return contiguous.data<T>(); });
  if (tensor.numel() > 0 && H5Dwrite(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail("cannot write dataset", dataset);
}

Tensor File::read(const std::string& dataset) const {
  if (!exists(dataset)) fail("no such dataset", dataset);
  Handle ds(H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) fail("not a dataset", dataset);
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_FLOAT) fail("dataset is not floating point", dataset);
  const DType dtype = H5Tget_size(type.get()) == 4 ? DType::f32 : DType::f64;
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Tensor out = Tensor::empty(Shape(dims.begin(), dims.end()), dtype);
  void* data = dispatch(dtype, [&]<class T>() -> void* { return out.data<T>(); });
  if (out.numel() > 0 && H5Dread(ds.get(), native_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail("cannot read dataset (truncated file?)", dataset);
  return out;
}

void File::write_strings(const std::string& dataset, const std::vector<std::string>& values) {
  ensure_parent_groups(dataset);
  const Handle type = utf8_string_type();
  const hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle ds(H5Dcreate2(id_, dataset.c_str(), type.get(), space.get(), H5P_DEFAULT,
                       untimed(H5P_DATASET_CREATE).get(), H5P_DEFAULT),
            H5Dclose);
  if (!ds.ok()) fail("cannot create string dataset", dataset);
  std::vector<const char*> pointers;
  for (const auto& v : values) pointers.push_back(v.c_str());
  if (n > 0 && H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) < 0)
    fail("cannot write string dataset", dataset);
}

namespace {

std::uint64_t little_endian(const unsigned char* p, std::size_t bytes) {
  std::uint64_t v = 0;
  for (std::size_t k = bytes; k-- > 0;) v = (v << 8) | p[k];
  return v;
}

// libhdf5 follows a variable-length string's reference into the file's global heap without checking
// it: a corrupted heap collection makes H5Dread read outside its buffers (fuzz_store found one). So,
// before reading, every element's reference (length, collection address, object index; HDF5 file
// format, "Global Heap") is checked against the file itself: the collection must lie in the file,
// start with "GCOL" and hold that object, at least as long as the string. Returns the problem, or "".
std::string check_string_references(hid_t file, hid_t dataset, hssize_t count,
                                    const std::filesystem::path& path) {
  if (count <= 0) return "";
  const haddr_t offset = H5Dget_offset(dataset);
  if (offset == HADDR_UNDEF) return "string dataset is not stored contiguously";
  Handle plist(H5Fget_create_plist(file), H5Pclose);
  std::size_t address_bytes = 8, size_bytes = 8;
  hsize_t base = 0;
  if (!plist.ok() || H5Pget_sizes(plist.get(), &address_bytes, &size_bytes) < 0 ||
      H5Pget_userblock(plist.get(), &base) < 0 || address_bytes > 8 || size_bytes > 8)
    return "unreadable file creation properties";
  std::error_code error;
  const std::uint64_t file_size = std::filesystem::file_size(path, error);
  if (error) return "cannot size the file";
  const std::uint64_t element = 4 + address_bytes + 4, total = element * static_cast<std::uint64_t>(count);
  // H5Dget_offset counts from the start of the file (user block included); heap addresses from the base.
  if (offset > file_size || total > file_size - offset) return "string references beyond the end of the file";
  std::ifstream in(path, std::ios::binary);
  auto read_at = [&](std::uint64_t at, std::uint64_t bytes) {
    std::vector<unsigned char> buffer(bytes);
    in.seekg(static_cast<std::streamoff>(at));
    in.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(bytes));
    if (!in) buffer.clear();
    return buffer;
  };
  const std::vector<unsigned char> refs = read_at(offset, total);
  if (refs.size() != total) return "cannot read the string references";
  std::map<std::uint64_t, std::map<std::uint64_t, std::uint64_t>> collections;  // address -> index -> size
  for (hssize_t i = 0; i < count; ++i) {
    const unsigned char* r = refs.data() + static_cast<std::uint64_t>(i) * element;
    const std::uint64_t length = little_endian(r, 4), address = little_endian(r + 4, address_bytes),
                        index = little_endian(r + 4 + address_bytes, 4);
    if (length == 0) continue;  // an empty string reads nothing from the heap
    auto found = collections.find(address);
    if (found == collections.end()) {
      const std::uint64_t header = 8 + size_bytes;
      if (address > file_size - base || header > file_size - base - address)
        return "a string's heap collection lies beyond the end of the file";
      const std::vector<unsigned char> head = read_at(base + address, header);
      if (head.size() != header || std::memcmp(head.data(), "GCOL", 4) != 0 || head[4] != 1)
        return "a string's heap collection is corrupt";
      const std::uint64_t collection_size = little_endian(head.data() + 8, size_bytes);
      if (collection_size < header || collection_size > file_size - base - address)
        return "a string's heap collection lies beyond the end of the file";
      const std::vector<unsigned char> body = read_at(base + address, collection_size);
      if (body.size() != collection_size) return "cannot read a string's heap collection";
      std::map<std::uint64_t, std::uint64_t> objects;
      const std::uint64_t object_header = 8 + size_bytes;
      for (std::uint64_t at = header; at + object_header <= collection_size;) {
        const std::uint64_t id = little_endian(body.data() + at, 2),
                            size = little_endian(body.data() + at + 8, size_bytes);
        if (id == 0) break;  // the free space closes the collection
        if (size > collection_size - at - object_header) return "a string's heap object is corrupt";
        objects[id] = size;
        at += object_header + (size + 7) / 8 * 8;
      }
      found = collections.emplace(address, std::move(objects)).first;
    }
    const auto object = found->second.find(index);
    if (object == found->second.end() || object->second < length)
      return "a string's heap object is missing or too short";
  }
  return "";
}

}  // namespace

std::vector<std::string> File::read_strings(const std::string& dataset) const {
  if (!exists(dataset)) fail("no such dataset", dataset);
  Handle ds(H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  const Handle type = utf8_string_type();
  Handle stored(H5Dget_type(ds.get()), H5Tclose);
  if (!stored.ok() || H5Tget_class(stored.get()) != H5T_STRING) fail("dataset is not of strings", dataset);
  if (H5Tis_variable_str(stored.get()) > 0) {
    unsigned intent = 0;
    if (H5Fget_intent(id_, &intent) >= 0 && (intent & H5F_ACC_RDWR))
      H5Fflush(id_, H5F_SCOPE_LOCAL);  // the checks read the file as it is on disk
    if (const std::string problem = check_string_references(id_, ds.get(), n, path_); !problem.empty())
      fail(problem + " (corrupt file?)", dataset);
  }
  std::vector<char*> pointers(static_cast<std::size_t>(std::max<hssize_t>(n, 0)), nullptr);
  if (n > 0 && H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) < 0)
    fail("cannot read string dataset", dataset);
  std::vector<std::string> out(pointers.begin(), pointers.end());
  if (n > 0) H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, pointers.data());
  return out;
}

namespace {

template <class Write>
void write_attribute(hid_t file, const std::string& object, const std::string& name, hid_t type,
                     Write&& write, const File& self) {
  Handle obj = open_object(file, object);
  if (!obj.ok())
    throw std::runtime_error("HDF5 " + self.path().string() + " [" + object + "]: no such object");
  if (H5Aexists(obj.get(), name.c_str()) > 0) H5Adelete(obj.get(), name.c_str());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(obj.get(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || write(attr.get()) < 0)
    throw std::runtime_error("HDF5 " + self.path().string() + " [" + object + "]: cannot write attribute " +
                             name);
}

}  // namespace

void File::set_attr(const std::string& object, const std::string& name, const std::string& value) {
  const Handle type = utf8_string_type();
  const char* text = value.c_str();
  write_attribute(
      id_, object, name, type.get(), [&](hid_t a) { return H5Awrite(a, type.get(), &text); }, *this);
}

void File::set_attr(const std::string& object, const std::string& name, double value) {
  write_attribute(
      id_, object, name, H5T_NATIVE_DOUBLE, [&](hid_t a) { return H5Awrite(a, H5T_NATIVE_DOUBLE, &value); },
      *this);
}

void File::set_attr(const std::string& object, const std::string& name, std::int64_t value) {
  write_attribute(
      id_, object, name, H5T_NATIVE_INT64, [&](hid_t a) { return H5Awrite(a, H5T_NATIVE_INT64, &value); },
      *this);
}

bool File::has_attr(const std::string& object, const std::string& name) const {
  Handle obj = open_object(id_, object);
  return obj.ok() && H5Aexists(obj.get(), name.c_str()) > 0;
}

std::vector<std::string> File::attr_names(const std::string& object) const {
  Handle obj = open_object(id_, object);
  if (!obj.ok()) fail("no such object", object);
  std::vector<std::string> names;
  H5Aiterate2(
      obj.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
        static_cast<std::vector<std::string>*>(out)->emplace_back(name);
        return 0;
      },
      &names);
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

// Opens attribute `name` of `object` or throws naming both.
Handle open_attribute(hid_t file, const std::string& object, const std::string& name, const File& self) {
  Handle obj = open_object(file, object);
  if (!obj.ok() || H5Aexists(obj.get(), name.c_str()) <= 0)
    throw std::runtime_error("HDF5 " + self.path().string() + " [" + object + "]: no attribute " + name);
  return Handle(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
}

}  // namespace

std::string File::attr_string(const std::string& object, const std::string& name) const {
  Handle attr = open_attribute(id_, object, name, *this);
  const Handle type = utf8_string_type();
  char* text = nullptr;
  if (H5Aread(attr.get(), type.get(), &text) < 0 || text == nullptr)
    fail("attribute is not a string: " + name, object);
  std::string out(text);
  H5free_memory(text);
  return out;
}

double File::attr_double(const std::string& object, const std::string& name) const {
  Handle attr = open_attribute(id_, object, name, *this);
  double value = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value) < 0) fail("attribute is not numeric: " + name, object);
  return value;
}

std::int64_t File::attr_int(const std::string& object, const std::string& name) const {
  Handle attr = open_attribute(id_, object, name, *this);
  std::int64_t value = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_INT64, &value) < 0) fail("attribute is not an integer: " + name, object);
  return value;
}

void write_atomically(const std::filesystem::path& path, const std::function<void(File&)>& write) {
  auto temporary = path;
  temporary += ".tmp." + std::to_string(::getpid());
  try {
    {
      File file(temporary, File::Mode::create);
      write(file);
      file.close();  // a failed flush must not replace the good file
    }
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%s%016llx\n", kChecksumMagic,
                  static_cast<unsigned long long>(fnv1a_file(temporary, kUserBlock)));
    {
      std::fstream out(temporary, std::ios::in | std::ios::out | std::ios::binary);
      out.write(stamp, static_cast<std::streamsize>(std::strlen(stamp)));
      if (!out.flush())
        throw std::runtime_error("HDF5 " + temporary.string() + ": cannot write its checksum");
    }
    std::filesystem::rename(temporary, path);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw;
  }
}

Checksum verify_checksum(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  const auto time = std::filesystem::last_write_time(path, error);
  if (error) return Checksum::absent;
  const std::string key = path.lexically_normal().string() + '|' + std::to_string(size) + '|' +
                          std::to_string(time.time_since_epoch().count());
  static std::mutex mutex;
  static std::map<std::string, Checksum> known;
  {
    const std::lock_guard lock(mutex);
    if (const auto it = known.find(key); it != known.end()) return it->second;
  }
  Checksum result = Checksum::absent;
  char head[32] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(head, sizeof head - 1);
  const std::size_t magic = std::strlen(kChecksumMagic);
  if (in.gcount() >= static_cast<std::streamsize>(magic + 17) &&
      std::memcmp(head, kChecksumMagic, magic) == 0) {
    char expected[17];
    std::snprintf(expected, sizeof expected, "%016llx",
                  static_cast<unsigned long long>(size >= kUserBlock ? fnv1a_file(path, kUserBlock) : 0));
    result = size >= kUserBlock && std::memcmp(head + magic, expected, 16) == 0 ? Checksum::valid
                                                                                : Checksum::mismatch;
  }
  const std::lock_guard lock(mutex);
  return known[key] = result;
}

}  // namespace qf::h5
