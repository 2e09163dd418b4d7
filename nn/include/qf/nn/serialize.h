// Save and load a model's parameters and configuration to HDF5 (layout in docs/hdf5-layout.md):
//   /                   attrs: format = "quantforge.model", format_version = 1, model_type
//   /config             attrs: one string attribute per configuration key
//   /parameters/<name>  one float dataset per parameter, named as in Module::named_parameters()
// Writes are atomic (temporary file, then rename).
#pragma once

#include <filesystem>

#include "qf/nn/module.h"

namespace qf::h5 {
class File;
}

namespace qf::nn {

void save_model(const std::filesystem::path& path, Module& model);
// Loads parameters into an already built model; names, shapes and dtypes must match exactly, and the
// error names the first that does not.
void load_parameters(const std::filesystem::path& path, Module& model);
// The saved model type and configuration, to rebuild the model before load_parameters.
std::pair<std::string, Config> read_model_config(const std::filesystem::path& path);

// The same, into or from a group of an open file (e.g. one model among many in a registry).
void write_model(h5::File& file, const std::string& group, Module& model);
void read_parameters(const h5::File& file, const std::string& group, Module& model);

}  // namespace qf::nn
