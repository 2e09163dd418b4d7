#include "qf/tensor/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "qf/tensor/blas.h"

namespace qf {

namespace {

thread_local bool t_inside_parallel_region = false;

// Workers wait for a job, run their chunk of it, and report back; the pool is rebuilt when the
// thread count changes. Waiting spins briefly before sleeping: parallel regions come in quick
// succession during a training step, and waking a sleeping thread costs tens of microseconds.
class ThreadPool {
 public:
  explicit ThreadPool(int threads) {
    for (int w = 1; w < threads; ++w) workers_.emplace_back([this, w] { work(w); });
  }
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
  }  // jthreads join
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs job(c) for c in [0, chunks) with chunks <= size(); the caller runs chunk 0.
  void run(int chunks, const std::function<void(int)>& job) {
    {
      std::lock_guard lock(mutex_);
      job_ = &job;
      chunks_ = chunks;
      pending_.store(chunks - 1);
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    job(0);
    if (!spin_until([this] { return pending_.load() == 0; })) {
      std::unique_lock lock(mutex_);
      done_.wait(lock, [this] { return pending_.load() == 0; });
    }
  }

 private:
  // Spins for up to ~50 microseconds; true when the condition came true meanwhile.
  template <class Condition>
  static bool spin_until(Condition condition) {
    for (int i = 0; i < 20000; ++i) {
      if (condition()) return true;
      if ((i & 63) == 63) std::this_thread::yield();
    }
    return condition();
  }

  void work(int index) {
    t_inside_parallel_region = true;
    std::uint64_t seen = 0;
    for (;;) {
      if (!spin_until([&] { return generation_.load() != seen; })) {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
      }
      const std::function<void(int)>* job = nullptr;
      int chunks = 0;
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        seen = generation_.load();
        job = job_;
        chunks = chunks_;
      }
      if (index >= chunks) continue;
      (*job)(index);
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard lock(mutex_);  // pairs with the caller's wait
        done_.notify_one();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int chunks_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<std::uint64_t> generation_{0};
  bool stopping_ = false;
  std::vector<std::jthread> workers_;  // last member: joined first on destruction
};

std::mutex g_pool_mutex;  // one parallel region at a time from outside threads
std::unique_ptr<ThreadPool> g_pool;
std::atomic<int> g_threads{0};

int default_threads() {
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// OpenBLAS stays single-threaded from the start (see the header).
const bool g_openblas_single_threaded = [] {
  blas::set_num_threads(1);
  return true;
}();

}  // namespace

void set_num_threads(int threads) {
  std::lock_guard lock(g_pool_mutex);
  g_threads.store(std::max(1, threads));
  g_pool.reset();
  blas::set_num_threads(1);
}

int num_threads() {
  const int threads = g_threads.load();
  return threads > 0 ? threads : default_threads();
}

int parallel_for_chunks(std::int64_t n, std::int64_t grain,
                        const std::function<void(int, std::int64_t, std::int64_t)>& body) {
  const std::int64_t max_chunks = n / std::max<std::int64_t>(grain, 1);
  if (max_chunks <= 1 || num_threads() <= 1 || t_inside_parallel_region) {
    body(0, 0, n);
    return 1;
  }
  std::lock_guard lock(g_pool_mutex);  // the pool and its size cannot change until we are done
  if (!g_pool || g_pool->size() != num_threads()) {
    blas::set_num_threads(1);
    g_pool = std::make_unique<ThreadPool>(num_threads());
  }
  const int chunks = static_cast<int>(std::clamp<std::int64_t>(max_chunks, 1, g_pool->size()));
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(chunks));
  const std::function<void(int)> job = [&](int c) {
    try {
      body(c, n * c / chunks, n * (c + 1) / chunks);
    } catch (...) {
      errors[static_cast<std::size_t>(c)] = std::current_exception();
    }
  };
  t_inside_parallel_region = true;
  g_pool->run(chunks, job);
  t_inside_parallel_region = false;
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return chunks;
}

SerialRegion::SerialRegion() : previous_(t_inside_parallel_region) {
  t_inside_parallel_region = true;
}
SerialRegion::~SerialRegion() {
  t_inside_parallel_region = previous_;
}

void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& body) {
  parallel_for_chunks(n, grain, [&](int, std::int64_t begin, std::int64_t end) { body(begin, end); });
}

}  // namespace qf
