// Module: the base of layers and models. It owns parameters (Vars that require grad), knows its
// sub-modules, and carries a flat configuration so that save/load (serialize.h) can rebuild it.
// Parameter names follow PyTorch: "<submodule>.<name>", e.g. "lstm.weight_ih_l0".
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "qf/tensor/autodiff.h"

namespace qf::nn {

using Config = std::map<std::string, std::string>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;  // parameters are registered by address
  Module& operator=(const Module&) = delete;

  // Every parameter of this module and its sub-modules, with dotted names, in registration order.
  std::vector<std::pair<std::string, Var*>> named_parameters();
  std::vector<Var> parameters();
  std::int64_t parameter_count();

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  // The model's name and settings (sizes, layers...), saved beside the parameters.
  virtual std::string type_name() const = 0;
  virtual Config config() const { return {}; }

 protected:
  void register_parameter(std::string name, Var& parameter);
  void register_module(std::string name, Module& module);

 private:
  std::vector<std::pair<std::string, Var*>> parameters_;
  std::vector<std::pair<std::string, Module*>> modules_;
  bool training_ = true;
};

}  // namespace qf::nn
