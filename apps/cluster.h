// The ranks of an MPI run (mpirun -n N app ...), or a single process when built without MPI or started
// without mpirun. Only what the apps need: rank, size, a barrier and sums across ranks.
#pragma once

#include <vector>

namespace qf::apps {

class Cluster {
 public:
  Cluster(int& argc, char**& argv);  // MPI_Init when built with MPI
  ~Cluster();                        // MPI_Finalize
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  void barrier() const;
  std::vector<double> sum(std::vector<double> values) const;  // element-wise over all ranks, on every rank
  // Ends every rank with this status (MPI_Abort), e.g. after one rank hit an error the others wait on.
  [[noreturn]] void abort(int status) const;

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace qf::apps
