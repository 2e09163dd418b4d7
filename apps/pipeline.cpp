#include "pipeline.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "qf/data/csv.h"
#include "qf/data/store.h"

namespace fs = std::filesystem;

namespace qf::apps {

ProcessResult run_process(const std::vector<std::string>& argv, const fs::path& log, bool echo,
                          const std::function<void(const std::string&)>& on_line) {
  if (argv.empty()) throw std::invalid_argument("run_process: no program");
  fs::create_directories(log.parent_path());
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0)
    throw std::runtime_error("run_process: pipe: " + std::string(std::strerror(errno)));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const auto started = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("run_process: fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {  // the child: only async-signal-safe calls until exec
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before the line above
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    execv(args[0], args.data());
    const char message[] = "run_pipeline: cannot start the stage program\n";
    (void)!write(STDERR_FILENO, message, sizeof message - 1);
    _exit(127);
  }
  close(pipe_fds[1]);
  {
    std::ofstream out(log, std::ios::app | std::ios::binary);
    char buffer[4096];
    std::string line;  // the incomplete last line of the output so far (for on_line)
    for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      out.write(buffer, n);
      out.flush();
      if (echo) (void)!write(STDOUT_FILENO, buffer, static_cast<std::size_t>(n));
      if (!on_line) continue;
      for (ssize_t k = 0; k < n; ++k) {
        if (buffer[k] != '\n' && buffer[k] != '\r') {
          line += buffer[k];
        } else if (!line.empty()) {
          on_line(line);
          line.clear();
        }
      }
    }
    if (on_line && !line.empty()) on_line(line);
  }
  close(pipe_fds[0]);
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0)
    if (errno != EINTR) throw std::runtime_error("run_process: wait4: " + std::string(std::strerror(errno)));
  ProcessResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  r.peak_rss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports kilobytes
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

PipelineState PipelineState::load(const fs::path& path) {
  PipelineState s;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    s.values_[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return s;
}

void PipelineState::save(const fs::path& path) const {
  std::string text =
      "# run_pipeline state manifest (written by run_pipeline; read by run_pipeline --status)\n";
  for (const auto& [key, value] : values_) {
    std::string clean = value;
    std::replace(clean.begin(), clean.end(), '\n', ' ');
    text += key + " = " + clean + "\n";
  }
  data::write_text_atomically(path, text);
}

std::string PipelineState::get(const std::string& key, const std::string& fallback) const {
  const auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

std::string HashCache::hash(const fs::path& path) {
  const std::string name = path.lexically_normal().string();
  if (const auto it = hashes_.find(name); it != hashes_.end()) return it->second;
  std::string h = "missing";
  if (fs::is_regular_file(path)) {
    h = data::file_hash(path);
  } else if (fs::is_directory(path)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(path))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::string all;
    for (const auto& f : files) all += f.lexically_relative(path).string() + ':' + data::file_hash(f) + ';';
    h = data::text_hash(all);
  }
  return hashes_[name] = h;
}

FolderLock::FolderLock(const fs::path& folder) {
  fs::create_directories(folder);
  const fs::path path = folder / "pipeline.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("another run_pipeline is working in " + folder.string() + " (" + path.string() +
                             " is locked)");
  }
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

int remove_stale_temporaries(const fs::path& folder) {
  int removed = 0;
  std::vector<fs::path> stale;
  if (!fs::is_directory(folder)) return 0;
  for (const auto& e : fs::recursive_directory_iterator(folder)) {
    const std::string name = e.path().filename().string();
    const auto at = name.rfind(".tmp.");
    if (!e.is_regular_file() || at == std::string::npos) continue;
    const std::string pid = name.substr(at + 5);
    if (!pid.empty() && std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; }))
      stale.push_back(e.path());
  }
  for (const auto& p : stale) removed += fs::remove(p) ? 1 : 0;
  return removed;
}

std::string stage_key(const std::vector<std::string>& argv, const std::vector<fs::path>& inputs,
                      HashCache& hashes, std::string* described_inputs) {
  std::string text, described;
  for (std::size_t k = 1; k < argv.size(); ++k) text += argv[k] + '\x1f';  // the program's path may move
  for (const auto& p : inputs) {
    const std::string entry = p.string() + ':' + hashes.hash(p);
    text += entry + '\x1e';
    described += (described.empty() ? "" : ";") + entry;
  }
  if (described_inputs) *described_inputs = described;
  return data::text_hash(text);
}

}  // namespace qf::apps
