#include "qf/nn/module.h"

namespace qf::nn {

void Module::register_parameter(std::string name, Var& parameter) {
  parameters_.emplace_back(std::move(name), &parameter);
}

void Module::register_module(std::string name, Module& module) {
  modules_.emplace_back(std::move(name), &module);
}

std::vector<std::pair<std::string, Var*>> Module::named_parameters() {
  std::vector<std::pair<std::string, Var*>> out = parameters_;
  for (auto& [prefix, module] : modules_)
    for (auto& [name, var] : module->named_parameters()) out.emplace_back(prefix + "." + name, var);
  return out;
}

std::vector<Var> Module::parameters() {
  std::vector<Var> out;
  for (auto& [name, var] : named_parameters()) out.push_back(*var);
  return out;
}

std::int64_t Module::parameter_count() {
  std::int64_t n = 0;
  for (auto& [name, var] : named_parameters()) n += var->value().numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, module] : modules_) module->train(on);
}

}  // namespace qf::nn
