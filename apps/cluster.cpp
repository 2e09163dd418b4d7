#include "cluster.h"

#include <cstdio>
#include <cstdlib>

#ifdef QF_WITH_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only: no deprecated C++ bindings to link
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace qf::apps {

#ifdef QF_WITH_MPI
namespace {
// True when a launcher (mpirun, srun) started this process. Without one, MPI_Init would start a
// singleton runtime (OpenMPI forks an orted daemon) for nothing.
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}
bool g_mpi = false;
}  // namespace

Cluster::Cluster(int& argc, char**& argv) {
  if (!launched_by_mpi()) return;
  // Our worker threads never call MPI: only the main thread does (funneled).
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  g_mpi = true;
  if (provided < MPI_THREAD_FUNNELED) {
    std::fprintf(stderr, "MPI gives no thread support (level %d): run with --threads 1\n", provided);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}
Cluster::~Cluster() {
  if (g_mpi) MPI_Finalize();
}
void Cluster::barrier() const {
  if (g_mpi) MPI_Barrier(MPI_COMM_WORLD);
}
std::vector<double> Cluster::sum(std::vector<double> values) const {
  if (g_mpi)
    MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM,
                  MPI_COMM_WORLD);
  return values;
}
void Cluster::abort(int status) const {
  if (g_mpi) MPI_Abort(MPI_COMM_WORLD, status);
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
