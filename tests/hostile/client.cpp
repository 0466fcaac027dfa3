#include "client.hpp"

#include <fstream>

#include <unistd.h>

#include <caf/scoped_actor.hpp>

namespace phx_hostile {

size_t rss_kib() {
  std::ifstream in{"/proc/self/statm"};
  size_t pages_total = 0;
  size_t pages_resident = 0;
  in >> pages_total >> pages_resident;
  return pages_resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE)) / 1024;
}

// -- log_capture -------------------------------------------------------------------

phx::log_sink log_capture::sink(const std::shared_ptr<log_capture>& self) {
  return [self](phx::log_level level, std::string_view component, std::string_view text) {
    self->add(level, component, text);
  };
}

void log_capture::add(phx::log_level level, std::string_view component,
                      std::string_view text) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto index = static_cast<size_t>(level);
  if (index < 6)
    ++by_level_[index];
  if (lines_.size() < cap_)
    lines_.push_back({level, std::string{component}, std::string{text}});
}

size_t log_capture::count(phx::log_level level, std::string_view text) const {
  std::lock_guard<std::mutex> guard{mtx_};
  size_t n = 0;
  for (auto& l : lines_)
    if (l.level == level && l.text.find(text) != std::string::npos)
      ++n;
  return n;
}

size_t log_capture::at_least(phx::log_level level) const {
  std::lock_guard<std::mutex> guard{mtx_};
  size_t n = 0;
  for (auto i = static_cast<size_t>(level); i < 6; ++i)
    n += by_level_[i];
  return n;
}

std::string log_capture::dump() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::string out;
  for (auto& l : lines_) {
    out += phx::protocol::to_string(l.level);
    out += " [";
    out += l.component;
    out += "] ";
    out += l.text.substr(0, 300);
    out += '\n';
  }
  return out;
}

// -- client -------------------------------------------------------------------------

client::client(mini_phoenix& srv, tweak f)
  : server(srv), logs(std::make_shared<log_capture>()) {
  phx::socket::options opts;
  // Fast steps: a reconnect or rejoin happens well within a wait.
  opts.reconnect_after_ms = [](uint32_t) { return 50u; };
  opts.rejoin_after_ms = [](uint32_t) { return 50u; };
  opts.log_level = phx::log_level::debug;
  if (f)
    f(opts);
  opts.logger = log_capture::sink(logs);
  sock.emplace(server.endpoint(), opts);
  sock->on_open([this] { events.add("open"); });
  sock->on_close([this, r = reports_](uint16_t code, const std::string& reason) {
    ++r->closes;
    events.add("close " + std::to_string(code));
    events.add("close reason " + reason);
  });
  sock->on_error([r = reports_](const std::string& reason, int) {
    ++r->errors;
    std::lock_guard<std::mutex> guard{r->mtx};
    if (r->reasons.size() < 1000)
      r->reasons.push_back(reason);
  });
  sock->connect();
  BOOST_REQUIRE_MESSAGE(events.wait_for("open", max_wait), "no connection to the mini server");
  a = join("room:a");
  b = join("room:b");
  auto jr = server.wait_joined("room:a", max_wait);
  BOOST_REQUIRE(jr);
  jr_a = *jr;
}

client::~client() {
  sock->disconnect_and_wait();
}

phx::channel client::join(const std::string& topic) {
  auto ch = sock->channel(topic);
  for (std::string event : {"evt", "probe"})
    ch.on(event, [this, topic, event](const phx::payload& p) {
      events.add(topic + " " + event + " " + p.to_string());
    });
  auto joined = topic + " joined";
  auto before = events.count(joined);
  ch.join().receive("ok", [this, joined](const phx::payload&) { events.add(joined); });
  BOOST_REQUIRE_MESSAGE(events.wait_count(joined, before + 1, max_wait),
                        "cannot join " << topic << "\n" << logs->dump());
  return ch;
}

void client::probe() {
  auto k = std::to_string(++probes_);
  auto body = phx::object({{"k", k}});
  for (auto* topic : {"room:a", "room:b"})
    server.push(topic, "probe", body);
  for (std::string topic : {"room:a", "room:b"})
    BOOST_REQUIRE_MESSAGE(events.wait_for(topic + " probe " + body.to_string(), max_wait),
                          "no probe " << k << " on " << topic << "\n"
                                      << events.dump() << logs->dump());
  for (auto* ch : {&*a, &*b}) {
    auto out = ch->push("echo", body).wait_for(max_wait);
    BOOST_REQUIRE_MESSAGE(out, "no echo outcome on " << ch->topic());
    BOOST_REQUIRE_EQUAL(out->status, "ok");
    BOOST_REQUIRE(out->response == body);
  }
}

void client::send_text_and_probe(std::string frame) {
  server.send_text(std::move(frame));
  probe();
}

void client::wait_rejoined(size_t n) {
  for (std::string topic : {"room:a", "room:b"})
    BOOST_REQUIRE_MESSAGE(events.wait_count(topic + " joined", n, max_wait),
                          topic << " not joined " << n << " times\n"
                                << events.dump() << logs->dump());
  auto jr = server.wait_joined("room:a", max_wait);
  BOOST_REQUIRE(jr);
  jr_a = *jr;
}

phx::push client::counted_push(phx::channel& ch, const std::string& event, phx::payload body,
                               std::chrono::milliseconds timeout, outcome_count& out) {
  auto p = ch.push(event, std::move(body), timeout);
  p.receive("ok", [&out](const phx::payload&) { ++out.ok; })
    .receive("error", [&out](const phx::payload&) { ++out.error; })
    .receive("timeout", [&out](const phx::payload&) { ++out.timeout; })
    .receive("failed", [&out](const phx::payload&) { ++out.failed; });
  return p;
}

phx::channel_stats client::stats(const phx::channel& ch) {
  caf::scoped_actor self{sock->system()};
  phx::channel_stats out;
  self->request(ch.actor(), std::chrono::seconds{5}, phx::stats_atom::value)
    .receive([&](phx::channel_stats s) { out = s; },
             [&](caf::error& err) { BOOST_FAIL("channel stats: " << to_string(err)); });
  return out;
}

std::vector<std::string> client::error_reasons() const {
  std::lock_guard<std::mutex> guard{reports_->mtx};
  return reports_->reasons;
}

} // namespace phx_hostile
