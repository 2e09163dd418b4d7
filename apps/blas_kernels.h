// Restarts the process once with OPENBLAS_CORETYPE set when OpenBLAS picked slower kernels than this
// CPU can run (qf::blas::better_core). OpenBLAS reads the variable only while it loads, before main,
// hence the exec. An OPENBLAS_CORETYPE the user set is left alone. Call it first thing in main.
#pragma once

#include <unistd.h>

#include <cstdlib>

#include "qf/tensor/blas.h"

namespace qf::apps {

inline void use_best_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  const char* core = qf::blas::better_core();
  if (core == nullptr) return;
  ::setenv("OPENBLAS_CORETYPE", core, 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: then run on with the kernels we have
  ::unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace qf::apps
