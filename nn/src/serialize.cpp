#include "qf/nn/serialize.h"

#include "qf/tensor/hdf5.h"

namespace qf::nn {

namespace {
constexpr const char* kFormat = "quantforge.model";
constexpr std::int64_t kFormatVersion = 1;

std::string join(const std::string& group, const std::string& name) {
  return group == "/" ? "/" + name : group + "/" + name;
}
}  // namespace

void write_model(h5::File& file, const std::string& group, Module& model) {
  for (auto& [name, var] : model.named_parameters())
    file.write(join(group, "parameters/" + name), var->value());
  const std::string config_group = join(group, "config");
  file.create_group(config_group);
  for (const auto& [key, value] : model.config()) file.set_attr(config_group, key, value);
  file.set_attr(group, "format", std::string(kFormat));
  file.set_attr(group, "format_version", kFormatVersion);
  file.set_attr(group, "model_type", model.type_name());
}

void read_parameters(const h5::File& file, const std::string& group, Module& model) {
  if (!file.has_attr(group, "format") || file.attr_string(group, "format") != kFormat)
    throw std::runtime_error("HDF5 " + file.path().string() + " [" + group + "]: not a QuantForge model");
  const std::string type = file.attr_string(group, "model_type");
  if (type != model.type_name())
    throw std::runtime_error("HDF5 " + file.path().string() + " [" + group + "]: holds a " + type +
                             ", cannot load into a " + model.type_name());
  for (auto& [name, var] : model.named_parameters()) {
    const std::string dataset = join(group, "parameters/" + name);
    Tensor stored = file.read(dataset);
    if (stored.shape() != var->shape() || stored.dtype() != var->dtype())
      throw std::runtime_error("HDF5 " + file.path().string() + " [" + dataset + "]: stored " +
                               to_string(stored.shape()) + " " + to_string(stored.dtype()) +
                               " but the model expects " + to_string(var->shape()) + " " +
                               to_string(var->dtype()));
    var->value().copy_from(stored);
  }
}

void save_model(const std::filesystem::path& path, Module& model) {
  h5::write_atomically(path, [&](h5::File& file) { write_model(file, "/", model); });
}

void load_parameters(const std::filesystem::path& path, Module& model) {
  const h5::File file(path, h5::File::Mode::read);
  read_parameters(file, "/", model);
}

std::pair<std::string, Config> read_model_config(const std::filesystem::path& path) {
  const h5::File file(path, h5::File::Mode::read);
  if (!file.has_attr("/", "format") || file.attr_string("/", "format") != kFormat)
    throw std::runtime_error("HDF5 " + path.string() + ": not a QuantForge model");
  Config config;
  for (const auto& key : file.attr_names("/config")) config[key] = file.attr_string("/config", key);
  return {file.attr_string("/", "model_type"), config};
}

}  // namespace qf::nn
