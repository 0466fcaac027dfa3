#include "terminal.hpp"

#include <histedit.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cwchar>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>

#include "human.hpp"

namespace phx::cli {

namespace {

/// The key the input loop feeds libedit when events wait: bound to
/// `phx-events`, which prints them above the prompt. Ctrl-] is unbound in
/// libedit's emacs and vi maps; typing it only redraws the prompt.
constexpr wchar_t events_key = 0x1d;

/// Lines queued beyond this are dropped and counted (a flood must not grow
/// memory while the person does not look).
constexpr size_t max_queued_lines = 10000;

/// The output of the interactive mode: lines queued by any thread, printed by
/// the input loop (`drain`), or at once after the prompt is gone (`direct`).
class event_queue : public output {
public:
  event_queue(bool colour) : colour_(colour) {}

  void write(const std::string& line) override {
    auto shown = human_line(line, clock_time(std::chrono::system_clock::now()), colour_);
    std::lock_guard<std::mutex> guard{mutex_};
    if (direct_) {
      std::fprintf(stdout, "%s\n", shown.c_str());
      std::fflush(stdout);
      return;
    }
    if (lines_.size() >= max_queued_lines) {
      ++dropped_;
    } else {
      lines_.push_back(std::move(shown));
    }
    ready_.set();
  }

  /// Prints every queued line (from the input loop only).
  void drain() {
    ready_.clear();
    std::deque<std::string> lines;
    size_t dropped = 0;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      lines.swap(lines_);
      std::swap(dropped, dropped_);
    }
    for (auto& l : lines)
      std::fprintf(stdout, "%s\n", l.c_str());
    if (dropped > 0)
      std::fprintf(stdout, "(%zu events not shown: they came faster than the terminal took them)\n",
                   dropped);
    std::fflush(stdout);
  }

  /// From now on lines are printed at once (the prompt is gone).
  void direct() {
    drain();
    std::lock_guard<std::mutex> guard{mutex_};
    direct_ = true;
  }

  /// Readable while lines wait.
  int fd() const noexcept {
    return ready_.fd();
  }

private:
  bool colour_;
  std::mutex mutex_;
  std::deque<std::string> lines_;
  size_t dropped_ = 0;
  bool direct_ = false;
  wakeup ready_;
};

/// What libedit's callbacks reach through `EL_CLIENTDATA`.
struct prompt_context {
  event_queue* events;
  wakeup* stop;
  bool stopped = false;
  std::string prompt;
  /// The terminal understands ANSI sequences (not `dumb`).
  bool ansi = true;
};

// The descriptor SIGINT, SIGTERM and SIGWINCH write to (a wakeup's).
volatile sig_atomic_t resized = 0;
wakeup* signal_target = nullptr;

extern "C" void on_prompt_signal(int) {
  if (signal_target != nullptr)
    signal_target->set();
}

extern "C" void on_resize(int) {
  resized = 1;
}

prompt_context* context_of(EditLine* el) {
  void* data = nullptr;
  el_get(el, EL_CLIENTDATA, &data);
  return static_cast<prompt_context*>(data);
}

const char* prompt_of(EditLine* el) {
  return context_of(el)->prompt.c_str();
}

// libedit's read function: waits for a key, a queued event or a stop; a
// multibyte character is read whole. Returns 1 with a character, 0 at the end.
int read_char(EditLine* el, wchar_t* out) {
  auto* ctx = context_of(el);
  std::mbstate_t state{};
  for (;;) {
    if (resized) {
      resized = 0;
      el_resize(el);
    }
    pollfd fds[3] = {{STDIN_FILENO, POLLIN, 0},
                     {ctx->events->fd(), POLLIN, 0},
                     {ctx->stop->fd(), POLLIN, 0}};
    auto r = ::poll(fds, 3, -1);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return 0;
    }
    if (fds[2].revents != 0) {
      ctx->stopped = true;
      return 0;
    }
    if (fds[1].revents != 0) {
      *out = events_key;
      return 1;
    }
    if (fds[0].revents == 0)
      continue;
    char byte;
    auto n = ::read(STDIN_FILENO, &byte, 1);
    if (n == 0)
      return 0;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      return 0;
    }
    wchar_t wc;
    auto used = std::mbrtowc(&wc, &byte, 1, &state);
    if (used == static_cast<size_t>(-2))
      continue; // the rest of a multibyte character follows
    if (used == static_cast<size_t>(-1)) {
      state = std::mbstate_t{};
      wc = static_cast<unsigned char>(byte);
    }
    *out = wc;
    return 1;
  }
}

// Bound to `events_key`: prints the queued lines where the prompt was, then
// has libedit draw the prompt and the line being edited again below them.
unsigned char show_events(EditLine* el, int) {
  auto* ctx = context_of(el);
  // Erase the prompt's line; a dumb terminal gets a new line instead.
  std::fputs(ctx->ansi ? "\r\x1b[K" : "\n", stdout);
  ctx->events->drain();
  return CC_REDISPLAY;
}

void install_signals(wakeup& stop) {
  signal_target = &stop;
  struct sigaction sa{};
  sa.sa_handler = on_prompt_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = on_resize;
  ::sigaction(SIGWINCH, &sa, nullptr);
}

} // namespace

int run_interactive(const options& opts, std::shared_ptr<wakeup> stop) {
  // libedit decodes keys by the locale's encoding (UTF-8 terminals).
  std::setlocale(LC_CTYPE, "");
  bool colour = wants_colour(std::getenv("TERM"), std::getenv("NO_COLOR"))
                && terminal_colours() >= 8;
  auto events = std::make_shared<event_queue>(colour);
  install_signals(*stop);
  std::unique_ptr<session> s;
  try {
    s = std::make_unique<session>(opts, events, stop);
  } catch (const phx::error& e) {
    std::fprintf(stderr, "phx: %s (see phx --help)\n", e.what());
    return exit_usage;
  }
  std::printf("phx %s: type help for the commands, quit or Ctrl-D to leave.\n",
              opts.url.c_str());
  std::fflush(stdout);
  s->start();

  auto* term = std::getenv("TERM");
  prompt_context ctx{events.get(), stop.get(), false, {},
                     term != nullptr && *term != '\0' && std::string_view{term} != "dumb"};
  // Between the \1 marks: escape sequences, not counted as visible width.
  ctx.prompt = colour ? "\1\x1b[1m\1phx>\1\x1b[0m\1 " : "phx> ";
  EditLine* el = el_init("phx", stdin, stdout, stderr);
  History* hist = history_init();
  HistEvent ev;
  history(hist, &ev, H_SETSIZE, 1000);
  history(hist, &ev, H_SETUNIQUE, 1);
  el_set(el, EL_CLIENTDATA, &ctx);
  el_set(el, EL_EDITOR, "emacs");
  el_set(el, EL_SIGNAL, 0);
  el_set(el, EL_HIST, history, hist);
  // The person's ~/.editrc (key bindings, vi mode) applies, under the name "phx".
  el_source(el, nullptr);
  el_set(el, EL_PROMPT_ESC, prompt_of, '\1');
  el_set(el, EL_GETCFN, read_char);
  el_set(el, EL_ADDFN, "phx-events", "print queued events", show_events);
  el_set(el, EL_BIND, "^]", "phx-events", nullptr);
  el_set(el, EL_BIND, "-a", "^]", "phx-events", nullptr);

  uint64_t line_number = 0;
  bool on_prompt_line = false;
  for (;;) {
    int count = 0;
    const char* text = el_gets(el, &count);
    if (ctx.stopped || text == nullptr || count <= 0) {
      on_prompt_line = true;
      break;
    }
    std::string line{text, static_cast<size_t>(count)};
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.pop_back();
    if (is_blank(line))
      continue;
    history(hist, &ev, H_ENTER, line.c_str());
    ++line_number;
    auto input = parse_interactive(line);
    if (std::holds_alternative<quit_request>(input))
      break;
    if (std::holds_alternative<help_request>(input)) {
      std::fputs(interactive_help().c_str(), stdout);
      std::fflush(stdout);
    } else if (auto err = std::get_if<line_error>(&input)) {
      s->reject(line_number, err->reason);
    } else {
      s->run(std::get<command>(input), line_number);
    }
    if (s->gave_up())
      break;
  }
  // The prompt goes; what the end of the session reports is printed at once.
  el_end(el);
  history_end(hist);
  if (on_prompt_line)
    std::fputs("\n", stdout);
  events->direct();
  auto rc = s->finish();
  s.reset();
  signal_target = nullptr;
  return rc;
}

} // namespace phx::cli
