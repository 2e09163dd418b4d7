#include "cluster.h"

#include <cstdlib>

#ifdef QF_WITH_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only: no deprecated C++ bindings to link
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace qf::apps {

#ifdef QF_WITH_MPI
Cluster::Cluster(int& argc, char**& argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}
Cluster::~Cluster() {
  MPI_Finalize();
}
void Cluster::barrier() const {
  MPI_Barrier(MPI_COMM_WORLD);
}
std::vector<double> Cluster::sum(std::vector<double> values) const {
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return values;
}
void Cluster::abort(int status) const {
  MPI_Abort(MPI_COMM_WORLD, status);
  std::exit(status);
}
#else
Cluster::Cluster(int&, char**&) {}
Cluster::~Cluster() = default;
void Cluster::barrier() const {}
std::vector<double> Cluster::sum(std::vector<double> values) const {
  return values;
}
void Cluster::abort(int status) const {
  std::exit(status);
}
#endif

}  // namespace qf::apps
