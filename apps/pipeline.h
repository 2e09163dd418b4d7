// What run_pipeline is built from: child processes with their wall time and peak memory, the state
// manifest, and the keys that decide whether a stage is up to date.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qf::apps {

struct ProcessResult {
  int exit_code = -1;  // the child's exit status; -1 when a signal ended it
  int signal = 0;      // the signal that ended it, 0 if none
  double seconds = 0;
  double peak_rss_mb = 0;  // the child's peak resident memory
};
// Runs argv[0] (a path; no shell) with the given arguments, stdout and stderr appended to `log` and,
// when `echo`, also to ours; `on_line` (optional) sees each complete line of that output as it comes
// (run_pipeline's progress line). The child dies with us (PR_SET_PDEATHSIG): a killed pipeline leaves no
// stage running. Throws std::runtime_error when the program cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv, const std::filesystem::path& log, bool echo,
                          const std::function<void(const std::string&)>& on_line = {});

// The state manifest: "key = value" lines (the Boost.Program_options config syntax, so that it reads
// like the configuration), kept sorted; saved atomically (temporary file, then rename).
class PipelineState {
 public:
  static PipelineState load(const std::filesystem::path& path);  // empty when there is no file
  void save(const std::filesystem::path& path) const;
  std::string get(const std::string& key, const std::string& fallback = "") const;
  void set(const std::string& key, const std::string& value) { values_[key] = value; }
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

// Content hashes of files (data::file_hash), each file read once per run; a folder stands for every
// regular file under it (sorted by path). A missing path hashes as "missing".
class HashCache {
 public:
  std::string hash(const std::filesystem::path& path);
  void forget(const std::filesystem::path& path) { hashes_.erase(path.lexically_normal().string()); }

 private:
  std::map<std::string, std::string> hashes_;
};

// The key of a stage run: its command line and its inputs' hashes. Also returns "path:hash" entries.
// Holds an exclusive lock on <folder>/pipeline.lock while alive (flock: released by the kernel when the
// process dies, however it dies). Throws std::runtime_error when another process holds it.
class FolderLock {
 public:
  explicit FolderLock(const std::filesystem::path& folder);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

// Removes the temporaries that atomic writes of killed processes left behind (<name>.tmp.<pid>) under
// `folder`; returns how many. Only safe while holding the folder's lock.
int remove_stale_temporaries(const std::filesystem::path& folder);

std::string stage_key(const std::vector<std::string>& argv, const std::vector<std::filesystem::path>& inputs,
                      HashCache& hashes, std::string* described_inputs = nullptr);

}  // namespace qf::apps
