#pragma once

// Runs the phx-fleet executable of this build as a child process, its output
// in files, every wait bounded. Header-only, POSIX.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fleet_test {

/// What a finished run left behind.
struct fleet_result {
  int exit_code = -1; ///< the exit code, or 128 + signal
  std::string out;    ///< stdout
  std::string err;    ///< stderr
};

inline std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

/// A fresh directory under the build tree for one test's files.
inline std::string scratch_dir(const std::string& name) {
  auto dir = std::string{PHX_BIN_DIR} + "/../tests/fleet-runs/" + name;
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
  return dir;
}

/// Writes `text` to `path`.
inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out{path, std::ios::trunc};
  out << text;
  if (!out.flush())
    throw std::runtime_error("cannot write " + path);
}

/// Runs `phx-fleet args...` with output in `dir`; `during(pid, elapsed_s)`
/// is called about every 50 ms while it runs. Kills it after `timeout_s`.
inline fleet_result run_fleet(const std::vector<std::string>& args, const std::string& dir,
                              double timeout_s = 120,
                              const std::function<void(pid_t, double)>& during = {}) {
  std::vector<std::string> store{std::string{PHX_BIN_DIR} + "/phx-fleet"};
  store.insert(store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : store)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  auto out_path = dir + "/stdout.txt";
  auto err_path = dir + "/stderr.txt";
  auto pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork failed");
  if (pid == 0) {
    int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(o, STDOUT_FILENO);
    ::dup2(e, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  auto t0 = std::chrono::steady_clock::now();
  fleet_result r;
  for (;;) {
    int status = 0;
    auto w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (elapsed > timeout_s) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw std::runtime_error("phx-fleet did not finish within " + std::to_string(timeout_s)
                               + " s; stderr: " + slurp(err_path));
    }
    if (during)
      during(pid, elapsed);
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

/// A `phx-fleet` child running in the background (a coordinator or a
/// worker), its output in `DIR/NAME.out` and `DIR/NAME.err`. Killed (SIGCONT
/// first, in case it was stopped, then SIGKILL) and reaped when it goes away.
class fleet_child {
public:
  fleet_child(const std::vector<std::string>& args, const std::string& dir, const std::string& name)
    : out_path_(dir + "/" + name + ".out"), err_path_(dir + "/" + name + ".err") {
    std::vector<std::string> store{std::string{PHX_BIN_DIR} + "/phx-fleet"};
    store.insert(store.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : store)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      int o = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, STDOUT_FILENO);
      ::dup2(e, STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~fleet_child() {
    if (pid_ > 0 && exit_code_ < 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  fleet_child(const fleet_child&) = delete;
  fleet_child& operator=(const fleet_child&) = delete;

  pid_t pid() const noexcept { return pid_; }
  /// Sends `sig` to the child.
  void signal(int sig) const { ::kill(pid_, sig); }
  std::string out() const { return slurp(out_path_); }
  std::string err() const { return slurp(err_path_); }

  /// True while it runs (reaps it when it ended).
  bool running() {
    if (exit_code_ >= 0)
      return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    return true;
  }

  /// Waits up to `timeout_s` for the exit; its code, or -1 if it still runs.
  int wait(double timeout_s) {
    auto t0 = std::chrono::steady_clock::now();
    while (running()
           && std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < timeout_s)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    return exit_code_;
  }

  /// Waits up to `timeout_s` until its stdout contains `text`; false if not.
  bool wait_output(const std::string& text, double timeout_s) {
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < timeout_s) {
      if (out().find(text) != std::string::npos)
        return true;
      if (!running())
        return out().find(text) != std::string::npos;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return false;
  }

private:
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

} // namespace fleet_test
