#include "scenario/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <rapidjson/error/en.h>

namespace phx::fleet {

namespace {

using rapidjson::Value;

// Thrown inside the parser only, turned into a scenario_error at its boundary.
struct bad_field {
  std::string path;
  std::string what;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw bad_field{path, what};
}

std::string at(const std::string& path, const char* key) {
  return path.empty() ? std::string{key} : path + "." + key;
}

std::string at(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// Refuses fields the scenario does not know: a typo must not pass silently.
void only(const Value& obj, const std::string& path, std::initializer_list<const char*> keys) {
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    std::string k{it->name.GetString(), it->name.GetStringLength()};
    if (std::none_of(keys.begin(), keys.end(), [&](const char* x) { return k == x; })) {
      std::string known;
      for (auto* x : keys)
        known += known.empty() ? x : std::string{", "} + x;
      fail(at(path, k.c_str()), "unknown field (known: " + known + ")");
    }
  }
}

const Value& object_at(const Value& v, const std::string& path) {
  if (!v.IsObject())
    fail(path, "expected an object");
  return v;
}

const Value* find(const Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

double number(const Value& obj, const std::string& path, const char* key, double def,
              double min = 0, double max = 1e12) {
  auto* v = find(obj, key);
  if (!v)
    return def;
  if (!v->IsNumber())
    fail(at(path, key), "expected a number");
  auto d = v->GetDouble();
  if (!std::isfinite(d) || d < min || d > max) {
    std::ostringstream os;
    os << "expected a number in [" << min << ", " << max << "], got " << d;
    fail(at(path, key), os.str());
  }
  return d;
}

uint32_t u32(const Value& obj, const std::string& path, const char* key, uint32_t def,
             double max = 4e9) {
  auto d = number(obj, path, key, def, 0, max);
  if (d != std::floor(d))
    fail(at(path, key), "expected a whole number");
  return static_cast<uint32_t>(d);
}

uint64_t u64(const Value& obj, const std::string& path, const char* key, uint64_t def,
             double max = 1e9) {
  auto d = number(obj, path, key, static_cast<double>(def), 0, max);
  if (d != std::floor(d))
    fail(at(path, key), "expected a whole number");
  return static_cast<uint64_t>(d);
}

std::string text(const Value& obj, const std::string& path, const char* key, std::string def,
                 bool required = false) {
  auto* v = find(obj, key);
  if (!v) {
    if (required)
      fail(at(path, key), "missing (expected a string)");
    return def;
  }
  if (!v->IsString())
    fail(at(path, key), "expected a string");
  return {v->GetString(), v->GetStringLength()};
}

bool boolean(const Value& obj, const std::string& path, const char* key, bool def) {
  auto* v = find(obj, key);
  if (!v)
    return def;
  if (!v->IsBool())
    fail(at(path, key), "expected true or false");
  return v->GetBool();
}

json_ptr copy(const Value& v) {
  auto doc = std::make_shared<rapidjson::Document>();
  doc->CopyFrom(v, doc->GetAllocator());
  return doc;
}

json_ptr json_object(const Value& obj, const std::string& path, const char* key) {
  auto* v = find(obj, key);
  if (!v)
    return nullptr;
  if (!v->IsObject())
    fail(at(path, key), "expected an object");
  return copy(*v);
}

std::vector<uint32_t> steps_ms(const Value& obj, const std::string& path, const char* key,
                               std::vector<uint32_t> def) {
  auto* v = find(obj, key);
  if (!v)
    return def;
  if (!v->IsArray() || v->Empty())
    fail(at(path, key), "expected a non-empty array of milliseconds");
  std::vector<uint32_t> out;
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
    auto& x = (*v)[i];
    if (!x.IsNumber() || x.GetDouble() < 0 || x.GetDouble() > 3.6e6)
      fail(at(at(path, key), i), "expected a number of milliseconds in [0, 3600000]");
    out.push_back(static_cast<uint32_t>(x.GetDouble()));
  }
  return out;
}

std::string ws_to_http(const std::string& url, const std::string& path) {
  static const std::regex re{R"(^(wss?|https?)://([^/?#]+)(/[^?#]*)?$)"};
  std::smatch m;
  if (!std::regex_match(url, m, re))
    fail(path, "expected a ws://, wss://, http:// or https:// URL with a host, got '" + url + "'");
  auto scheme = m[1].str();
  bool tls = scheme == "wss" || scheme == "https";
  return (tls ? "https://" : "http://") + m[2].str();
}

std::vector<target> parse_targets(const Value& root) {
  auto* v = find(root, "targets");
  if (!v)
    fail("targets", "missing (expected an array of URLs)");
  if (!v->IsArray() || v->Empty())
    fail("targets", "expected a non-empty array");
  std::vector<target> out;
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
    auto p = at("targets", i);
    auto& x = (*v)[i];
    target t;
    if (x.IsString()) {
      t.url = x.GetString();
      t.admin = ws_to_http(t.url, p);
    } else if (x.IsObject()) {
      only(x, p, {"url", "admin"});
      t.url = text(x, p, "url", "", true);
      t.admin = ws_to_http(t.url, at(p, "url"));
      if (find(x, "admin")) {
        t.admin = text(x, p, "admin", "");
        ws_to_http(t.admin, at(p, "admin"));
      }
    } else {
      fail(p, "expected a URL string or an object {\"url\", \"admin\"}");
    }
    out.push_back(std::move(t));
  }
  return out;
}

socket_spec parse_socket(const Value& root) {
  socket_spec s;
  auto* v = find(root, "socket");
  if (!v)
    return s;
  const std::string p = "socket";
  object_at(*v, p);
  only(*v, p, {"vsn", "params", "headers", "auth_token", "timeout_ms", "heartbeat_ms",
               "open_timeout_ms", "reconnect_ms", "rejoin_ms", "reconnect_jitter_ms",
               "rejoin_jitter_ms"});
  s.vsn = text(*v, p, "vsn", s.vsn);
  if (s.vsn != "2.0.0" && s.vsn != "1.0.0")
    fail(at(p, "vsn"), "expected \"2.0.0\" or \"1.0.0\"");
  s.params = json_object(*v, p, "params");
  if (auto* h = find(*v, "headers")) {
    if (!h->IsObject())
      fail(at(p, "headers"), "expected an object of strings");
    for (auto it = h->MemberBegin(); it != h->MemberEnd(); ++it) {
      if (!it->value.IsString())
        fail(at(at(p, "headers"), it->name.GetString()), "expected a string");
      s.headers.emplace_back(it->name.GetString(), it->value.GetString());
    }
  }
  s.auth_token = text(*v, p, "auth_token", "");
  s.timeout_ms = u32(*v, p, "timeout_ms", s.timeout_ms, 3.6e6);
  if (s.timeout_ms == 0)
    fail(at(p, "timeout_ms"), "expected a positive number");
  s.heartbeat_ms = u32(*v, p, "heartbeat_ms", s.heartbeat_ms, 3.6e6);
  s.open_timeout_ms = u32(*v, p, "open_timeout_ms", s.open_timeout_ms, 3.6e6);
  s.reconnect_ms = steps_ms(*v, p, "reconnect_ms", s.reconnect_ms);
  s.rejoin_ms = steps_ms(*v, p, "rejoin_ms", s.rejoin_ms);
  s.reconnect_jitter_ms = u32(*v, p, "reconnect_jitter_ms", 0, 3.6e6);
  s.rejoin_jitter_ms = u32(*v, p, "rejoin_jitter_ms", 0, 3.6e6);
  return s;
}

payload_spec parse_payload(const Value& obj, const std::string& p) {
  payload_spec out;
  int given = 0;
  if (auto* v = find(obj, "payload")) {
    ++given;
    if (!v->IsObject())
      fail(at(p, "payload"), "expected an object");
    out.mode = payload_spec::kind::fixed;
    out.value = copy(*v);
  }
  if (auto* v = find(obj, "template")) {
    ++given;
    if (!v->IsObject())
      fail(at(p, "template"), "expected an object (its strings expand {{i}}, {{n}}, {{rand}}, ...)");
    out.mode = payload_spec::kind::tmpl;
    out.value = copy(*v);
  }
  if (auto* v = find(obj, "random_size")) {
    ++given;
    auto rp = at(p, "random_size");
    object_at(*v, rp);
    only(*v, rp, {"min_bytes", "max_bytes"});
    out.mode = payload_spec::kind::random;
    out.min_bytes = u32(*v, rp, "min_bytes", 0, 16e6);
    out.max_bytes = u32(*v, rp, "max_bytes", out.min_bytes, 16e6);
    if (out.max_bytes < out.min_bytes)
      fail(at(rp, "max_bytes"), "expected at least min_bytes");
  }
  if (given > 1)
    fail(p, "give one of payload, template, random_size");
  if (given == 0) {
    auto empty = std::make_shared<rapidjson::Document>();
    empty->SetObject();
    out.value = empty;
  }
  return out;
}

std::string expect_of(const Value& obj, const std::string& p) {
  auto e = text(obj, p, "expect", "ok");
  if (e != "ok" && e != "error")
    fail(at(p, "expect"), "expected \"ok\" or \"error\"");
  return e;
}

// The step's topic: its "topic" field, else the topic of the last join above it.
std::string topic_of(const Value& obj, const std::string& p, const std::string& last) {
  if (!find(obj, "topic")) {
    if (last.empty())
      fail(at(p, "topic"), "missing (no join before this step to take it from)");
    return last;
  }
  auto t = text(obj, p, "topic", "");
  if (t.empty())
    fail(at(p, "topic"), "expected a non-empty topic");
  return t;
}

std::string main_text(const Value& obj, const std::string& p, const char* key) {
  auto t = text(obj, p, key, "");
  if (t.empty())
    fail(at(p, key), "expected a non-empty string");
  return t;
}

std::vector<step> parse_steps(const Value& arr, const std::string& path, int depth,
                              std::string& last_topic);

const char* const step_kinds[] = {"join", "push", "wait", "leave", "rejoin", "think", "loop",
                                  "crash"};

step parse_step(const Value& b, const std::string& p, int depth, std::string& last_topic) {
  object_at(b, p);
  std::string kind;
  for (auto* k : step_kinds) {
    if (find(b, k)) {
      if (!kind.empty())
        fail(p, "one step per object: both " + kind + " and " + k);
      kind = k;
    }
  }
  if (kind.empty())
    fail(p, "expected one of join, push, wait, leave, rejoin, think, loop, crash");
  step s;
  s.path = p;
  if (kind == "join") {
    s.what = step::kind::join;
    only(b, p, {"join", "params", "expect", "timeout_ms"});
    s.topic = last_topic = main_text(b, p, "join");
    s.params = json_object(b, p, "params");
    s.expect = expect_of(b, p);
    s.timeout_ms = u32(b, p, "timeout_ms", 0, 3.6e6);
  } else if (kind == "push") {
    s.what = step::kind::push;
    only(b, p, {"push", "topic", "payload", "template", "random_size", "rate", "count", "for_s",
                "forever", "expect", "timeout_ms"});
    s.event = main_text(b, p, "push");
    s.topic = topic_of(b, p, last_topic);
    s.payload = parse_payload(b, p);
    s.rate = number(b, p, "rate", 0, 0, 1e6);
    if (find(b, "rate") && s.rate <= 0)
      fail(at(p, "rate"), "expected a positive number of pushes per second");
    s.count = u64(b, p, "count", 1, 1e12);
    if (find(b, "count") && s.count == 0)
      fail(at(p, "count"), "expected at least 1 (for no end: \"forever\": true)");
    if (find(b, "for_s")) {
      if (find(b, "count"))
        fail(at(p, "for_s"), "give count or for_s, not both");
      if (s.rate <= 0)
        fail(at(p, "for_s"), "needs a rate");
      s.count = std::max<uint64_t>(1, static_cast<uint64_t>(number(b, p, "for_s", 0, 0, 1e6)
                                                            * s.rate));
    }
    if (boolean(b, p, "forever", false))
      s.count = 0;
    s.expect = expect_of(b, p);
    s.timeout_ms = u32(b, p, "timeout_ms", 0, 3.6e6);
  } else if (kind == "wait") {
    s.what = step::kind::wait;
    only(b, p, {"wait", "topic", "count", "timeout_ms"});
    s.event = main_text(b, p, "wait");
    s.topic = topic_of(b, p, last_topic);
    s.count = std::max<uint64_t>(1, u64(b, p, "count", 1));
    s.timeout_ms = u32(b, p, "timeout_ms", 10000, 3.6e6);
  } else if (kind == "leave" || kind == "rejoin") {
    s.what = kind == "leave" ? step::kind::leave : step::kind::rejoin;
    only(b, p, {kind == "leave" ? "leave" : "rejoin"});
    s.topic = main_text(b, p, kind.c_str());
  } else if (kind == "think") {
    s.what = step::kind::think;
    only(b, p, {"think"});
    auto& t = *find(b, "think");
    auto tp = at(p, "think");
    if (t.IsNumber()) {
      s.min_ms = s.max_ms = u32(b, p, "think", 0, 3.6e6);
    } else if (t.IsArray() && t.Size() == 2 && t[0].IsNumber() && t[1].IsNumber()
               && t[0].GetDouble() >= 0 && t[1].GetDouble() >= t[0].GetDouble()
               && t[1].GetDouble() <= 3.6e6) {
      s.min_ms = static_cast<uint32_t>(t[0].GetDouble());
      s.max_ms = static_cast<uint32_t>(t[1].GetDouble());
    } else {
      fail(tp, "expected milliseconds, or [min_ms, max_ms] with min <= max");
    }
  } else if (kind == "loop") {
    s.what = step::kind::loop;
    only(b, p, {"loop", "steps"});
    if (depth >= 8)
      fail(p, "loops nest at most 8 deep");
    auto& t = *find(b, "loop");
    if (t.IsString() && std::string{t.GetString()} == "forever")
      s.count = 0;
    else if (t.IsNumber() && t.GetDouble() >= 1 && t.GetDouble() <= 1e12
             && t.GetDouble() == std::floor(t.GetDouble()))
      s.count = static_cast<uint64_t>(t.GetDouble());
    else
      fail(at(p, "loop"), "expected a number of times (>= 1) or \"forever\"");
    auto* body = find(b, "steps");
    if (!body)
      fail(at(p, "steps"), "missing (expected an array of steps)");
    s.steps = parse_steps(*body, at(p, "steps"), depth + 1, last_topic);
    if (s.steps.empty())
      fail(at(p, "steps"), "expected at least one step");
  } else {
    s.what = step::kind::crash;
    only(b, p, {"crash"});
  }
  return s;
}

std::vector<step> parse_steps(const Value& arr, const std::string& path, int depth,
                              std::string& last_topic) {
  if (!arr.IsArray())
    fail(path, "expected an array of steps");
  std::vector<step> out;
  for (rapidjson::SizeType i = 0; i < arr.Size(); ++i)
    out.push_back(parse_step(arr[i], at(path, i), depth, last_topic));
  return out;
}

phase parse_phase(const Value& v, const std::string& p) {
  if (!v.IsObject() || v.MemberCount() != 1)
    fail(p, "expected an object with one key: ramp, arrivals, hold or ramp_down");
  auto& m = *v.MemberBegin();
  std::string kind{m.name.GetString(), m.name.GetStringLength()};
  auto sp = at(p, kind.c_str());
  const Value& b = object_at(m.value, sp);
  phase ph;
  if (kind == "ramp") {
    ph.what = phase::kind::ramp;
    only(b, sp, {"from", "to", "over_s"});
    ph.from = number(b, sp, "from", -1, -1, 1e8);
    if (!find(b, "to"))
      fail(at(sp, "to"), "missing (expected a number of users)");
    ph.to = number(b, sp, "to", 0, 0, 1e8);
    ph.seconds = number(b, sp, "over_s", 0, 0, 1e6);
  } else if (kind == "arrivals") {
    ph.what = phase::kind::arrivals;
    only(b, sp, {"per_s", "for_s"});
    ph.rate = number(b, sp, "per_s", 0, 0, 1e6);
    if (ph.rate <= 0)
      fail(at(sp, "per_s"), "expected a positive number of users per second");
    ph.seconds = number(b, sp, "for_s", 0, 0, 1e6);
  } else if (kind == "hold") {
    ph.what = phase::kind::hold;
    only(b, sp, {"for_s"});
    ph.seconds = number(b, sp, "for_s", 0, 0, 1e6);
  } else if (kind == "ramp_down") {
    ph.what = phase::kind::ramp_down;
    only(b, sp, {"to", "over_s"});
    ph.to = number(b, sp, "to", 0, 0, 1e8);
    ph.seconds = number(b, sp, "over_s", 0, 0, 1e6);
  } else {
    fail(sp, "unknown phase (known: ramp, arrivals, hold, ramp_down)");
  }
  return ph;
}

std::vector<population> parse_population(const Value& root) {
  auto* v = find(root, "population");
  if (!v)
    fail("population", "missing (expected an array of populations)");
  if (!v->IsArray() || v->Empty())
    fail("population", "expected a non-empty array");
  std::vector<population> out;
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
    auto p = at("population", i);
    auto& x = object_at((*v)[i], p);
    only(x, p, {"name", "users", "phases", "steps", "churn"});
    population pop;
    pop.name = text(x, p, "name", "pop" + std::to_string(i));
    if (!find(x, "users"))
      fail(at(p, "users"), "missing (expected a number of users)");
    pop.users = u64(x, p, "users", 0, 1e7);
    if (auto* ph = find(x, "phases")) {
      if (!ph->IsArray())
        fail(at(p, "phases"), "expected an array of phases");
      for (rapidjson::SizeType j = 0; j < ph->Size(); ++j)
        pop.phases.push_back(parse_phase((*ph)[j], at(at(p, "phases"), j)));
    }
    if (pop.phases.empty()) {
      phase all;
      all.what = phase::kind::ramp;
      all.from = 0;
      all.to = static_cast<double>(pop.users);
      pop.phases.push_back(all);
    }
    for (size_t j = 0; j < pop.phases.size(); ++j)
      if (pop.phases[j].what == phase::kind::ramp && pop.phases[j].to > pop.users)
        fail(at(at(at(p, "phases"), j), "ramp.to"),
             "expected at most the population's users (" + std::to_string(pop.users) + ")");
    auto* st = find(x, "steps");
    if (!st)
      fail(at(p, "steps"), "missing (expected an array of steps)");
    std::string last_topic;
    pop.steps = parse_steps(*st, at(p, "steps"), 0, last_topic);
    if (auto* c = find(x, "churn")) {
      auto cp = at(p, "churn");
      object_at(*c, cp);
      only(*c, cp, {"per_min", "down_ms"});
      pop.churn.share_per_min = number(*c, cp, "per_min", 0, 0, 60);
      pop.churn.down_ms = u32(*c, cp, "down_ms", 1000, 3.6e6);
    }
    out.push_back(std::move(pop));
  }
  return out;
}

std::vector<fault> parse_faults(const Value& root, size_t targets) {
  std::vector<fault> out;
  auto* v = find(root, "faults");
  if (!v)
    return out;
  if (!v->IsArray())
    fail("faults", "expected an array");
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
    auto p = at("faults", i);
    auto& x = object_at((*v)[i], p);
    only(x, p, {"at_s", "kind", "user", "ms", "target", "topic", "event"});
    fault f;
    if (!find(x, "at_s"))
      fail(at(p, "at_s"), "missing (expected seconds from the start)");
    f.at_s = number(x, p, "at_s", 0, 0, 1e6);
    f.kind = text(x, p, "kind", "", true);
    if (f.kind == "disconnect") {
      f.query = "user=" + text(x, p, "user", "", true);
    } else if (f.kind == "stall") {
      f.query = "ms=" + std::to_string(u32(x, p, "ms", 1000, 600000));
    } else if (f.kind == "broadcast") {
      f.query = "topic=" + text(x, p, "topic", "", true) + "&event=" + text(x, p, "event", "", true);
    } else if (f.kind != "disconnect_all" && f.kind != "kill_all") {
      fail(at(p, "kind"), "expected disconnect_all, kill_all, disconnect, stall or broadcast");
    }
    if (find(x, "target")) {
      auto t = u64(x, p, "target", 0);
      if (t >= targets)
        fail(at(p, "target"), "expected an index into targets (0.." + std::to_string(targets - 1) + ")");
      f.target = static_cast<int>(t);
    }
    out.push_back(std::move(f));
  }
  std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.at_s < b.at_s; });
  return out;
}

std::vector<threshold> parse_thresholds(const Value& root) {
  std::vector<threshold> out;
  auto* v = find(root, "thresholds");
  if (!v)
    return out;
  if (!v->IsObject())
    fail("thresholds", "expected an object of name: limit");
  for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it) {
    threshold t;
    t.name = it->name.GetString();
    auto p = at("thresholds", t.name.c_str());
    if (!known_threshold(t.name))
      fail(p, "unknown threshold (see docs/fleet.md: push_p99_ms, join_p99_ms, error_rate, ...)");
    if (it->value.IsNumber()) {
      t.limit = it->value.GetDouble();
    } else if (it->value.IsObject()) {
      only(it->value, p, {"limit", "abort_on_fail", "delay_s"});
      if (!find(it->value, "limit"))
        fail(at(p, "limit"), "missing (expected a number)");
      t.limit = number(it->value, p, "limit", 0, -1e12, 1e12);
      t.abort_on_fail = boolean(it->value, p, "abort_on_fail", false);
      t.delay_s = number(it->value, p, "delay_s", 0, 0, 1e6);
    } else {
      fail(p, "expected a number or {\"limit\", \"abort_on_fail\", \"delay_s\"}");
    }
    out.push_back(std::move(t));
  }
  return out;
}

scenario parse_root(const Value& root) {
  object_at(root, "");
  only(root, "", {"name", "seed", "duration_s", "drain_s", "targets", "socket", "population",
                  "faults", "thresholds", "description", "workers"});
  scenario s;
  s.name = text(root, "", "name", "scenario");
  if (find(root, "seed"))
    s.seed = u64(root, "", "seed", 0, 9e15);
  s.duration_s = number(root, "", "duration_s", 0, 0, 1e6);
  s.drain_s = number(root, "", "drain_s", 2, 0, 600);
  s.targets = parse_targets(root);
  s.socket = parse_socket(root);
  s.populations = parse_population(root);
  s.faults = parse_faults(root, s.targets.size());
  s.thresholds = parse_thresholds(root);
  if (auto* w = find(root, "workers")) {
    object_at(*w, "workers");
    only(*w, "workers", {"respawn", "recovery_s"});
    s.workers.respawn = boolean(*w, "workers", "respawn", true);
    s.workers.recovery_s = number(*w, "workers", "recovery_s", 10, 0, 3600);
  }
  return s;
}

} // namespace

bool known_threshold(const std::string& name) {
  static const std::regex latency{
    R"(^(connect|join|push|recover|lag)_(p50|p90|p99|p999|max|mean)_ms$)"};
  static const std::set<std::string> others{
    "error_rate", "push_error_rate", "timeout_rate", "min_joined_peak", "min_joined_end",
    "min_push_count", "min_join_count", "user_restarts"};
  return std::regex_match(name, latency) || others.count(name) > 0;
}

uint64_t scenario::total_users() const {
  uint64_t n = 0;
  for (auto& p : populations)
    n += p.users;
  return n;
}

double scenario::length_s() const {
  if (duration_s > 0)
    return duration_s;
  double longest = 0;
  for (auto& p : populations) {
    double sum = 0;
    for (auto& ph : p.phases)
      sum += ph.seconds;
    longest = std::max(longest, sum);
  }
  return std::max(longest, 1.0);
}

void scenario::scale_users(uint64_t n) {
  auto total = total_users();
  if (total == 0)
    return;
  double f = static_cast<double>(n) / static_cast<double>(total);
  uint64_t given = 0;
  for (size_t i = 0; i < populations.size(); ++i) {
    auto& p = populations[i];
    auto old = p.users;
    p.users = i + 1 == populations.size() ? n - std::min(n, given)
                                          : static_cast<uint64_t>(std::llround(old * f));
    given += p.users;
    double pf = old == 0 ? 0 : static_cast<double>(p.users) / static_cast<double>(old);
    for (auto& ph : p.phases) {
      if (ph.from > 0)
        ph.from = std::round(ph.from * pf);
      ph.to = std::round(ph.to * pf);
      ph.rate *= pf;
    }
  }
}

std::pair<std::optional<scenario>, scenario_error> parse_scenario(const std::string& json_text) {
  rapidjson::Document doc;
  doc.Parse(json_text.data(), json_text.size());
  if (doc.HasParseError()) {
    // Line of the error, for a human reading the file.
    auto off = doc.GetErrorOffset();
    auto line = 1 + std::count(json_text.begin(), json_text.begin() + std::min(off, json_text.size()), '\n');
    return {std::nullopt,
            {"", "not valid JSON at line " + std::to_string(line) + " (offset "
                   + std::to_string(off) + "): " + rapidjson::GetParseError_En(doc.GetParseError())}};
  }
  try {
    return {parse_root(doc), {}};
  } catch (const bad_field& e) {
    return {std::nullopt, {e.path, e.what}};
  }
}

std::pair<std::optional<scenario>, scenario_error> load_scenario(const std::string& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return {std::nullopt, {"", "cannot read scenario file '" + file + "'"}};
  std::ostringstream os;
  os << in.rdbuf();
  return parse_scenario(os.str());
}

} // namespace phx::fleet
