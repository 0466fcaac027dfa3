// Fuzz target: the presence algorithms on arbitrary JSON. The input is up to
// 32 lines `<op><join_ref><json>`: op `s` is a presence_state and `d` a
// presence_diff for the tracker (join_ref: a digit, or `-` for null); every
// line's JSON is also read as a state and as a diff. Invariants beyond "no crash":
// - parse errors are `invalid_presence` with a sentence; parsed metas carry a string phx_ref;
// - `to_json` of a state reads back to the same keys, order and metas;
// - `sync_state` / `sync_diff` never modify their inputs, and their results
//   follow phoenix.js: which keys stay, in which order, with which metas,
//   and one on_join / on_leave per joined / left key;
// - `presence_tracker` behaves as its contract says (queue while the join_ref
//   has no state yet, then apply in order; on_sync once per applied event),
//   checked against the same steps done with the pure functions.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "phx/protocol/presence.hpp"

using namespace phx::protocol;
using phx_fuzz::same_json;

namespace {

constexpr size_t max_lines = 32;

// -- snapshots: what a state is, by identity ------------------------------------

struct entry_view {
  std::string key;
  const json_value* fields;
  std::vector<const json_value*> metas;
  friend bool operator==(const entry_view& a, const entry_view& b) {
    return a.key == b.key && a.fields == b.fields && a.metas == b.metas;
  }
};

std::vector<entry_view> snapshot(const presence_state& s) {
  std::vector<entry_view> out;
  for (auto& [key, p] : s) {
    entry_view e{key, p.fields.get(), {}};
    for (auto& m : p.metas)
      e.metas.push_back(m.get());
    out.push_back(std::move(e));
  }
  return out;
}

const entry_view* find(const std::vector<entry_view>& v, const std::string& key) {
  auto i = std::find_if(v.begin(), v.end(), [&](auto& e) { return e.key == key; });
  return i == v.end() ? nullptr : &*i;
}

bool has_ref(const std::vector<const json_value*>& metas, std::string_view ref) {
  return std::any_of(metas.begin(), metas.end(),
                     [&](auto* m) { return phx_ref_of(*m) == ref; });
}

std::vector<std::string> keys(const std::vector<entry_view>& v) {
  std::vector<std::string> out;
  for (auto& e : v)
    out.push_back(e.key);
  return out;
}

std::vector<std::string_view> sorted_refs(const std::vector<const json_value*>& metas) {
  std::vector<std::string_view> out;
  for (auto* m : metas)
    out.push_back(phx_ref_of(*m));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// True if `sub` appears in `all` in the same relative order.
bool is_subsequence(const std::vector<std::string>& sub, const std::vector<std::string>& all) {
  auto i = all.begin();
  for (auto& s : sub) {
    i = std::find(i, all.end(), s);
    if (i == all.end())
      return false;
    ++i;
  }
  return true;
}

// A state's keys are unique, findable, and each meta has a string phx_ref.
void check_well_formed(const presence_state& s) {
  size_t n = 0;
  for (auto& [key, p] : s) {
    ++n;
    PHX_FUZZ_CHECK(s.find(key) == &p, "find() misses key " + key);
    for (auto& m : p.metas)
      PHX_FUZZ_CHECK(m && m->IsObject() && m->HasMember("phx_ref")
                       && (*m)["phx_ref"].IsString(),
                     "a meta without a string phx_ref under " + key);
  }
  PHX_FUZZ_CHECK(n == s.size(), "size() differs from the entries");
}

// -- recorded callbacks -----------------------------------------------------------

struct recorder {
  std::vector<std::string> lines;
  size_t syncs = 0;

  presence_join_fn join_fn() {
    return [this](const std::string& key, const presence* current, const presence& joined) {
      lines.push_back("join " + key + (current ? " +" : " new ")
                      + std::to_string(joined.metas.size()));
    };
  }
  presence_leave_fn leave_fn() {
    return [this](const std::string& key, const presence& current, const presence& left) {
      lines.push_back("leave " + key + " " + std::to_string(current.metas.size()) + " "
                      + std::to_string(left.metas.size()));
    };
  }
};

// -- to_json -------------------------------------------------------------------

void check_to_json(const presence_state& s) {
  auto back = parse_presence_state(make_json(to_json(s)));
  PHX_FUZZ_CHECK(back.has_value(), "to_json output does not parse as a state");
  PHX_FUZZ_CHECK(keys(snapshot(*back)) == keys(snapshot(s)), "to_json changed keys or order");
  for (auto& [key, p] : s) {
    auto* q = back->find(key);
    PHX_FUZZ_CHECK(q != nullptr && q->metas.size() == p.metas.size(),
                   "to_json changed the metas of " + key);
    for (size_t i = 0; i < p.metas.size(); ++i)
      PHX_FUZZ_CHECK(same_json(*p.metas[i], *q->metas[i]), "to_json changed a meta of " + key);
  }
}

// -- sync_diff -----------------------------------------------------------------

presence_state checked_sync_diff(const presence_state& current, const presence_diff& diff) {
  auto cur_before = snapshot(current);
  auto joins = snapshot(diff.joins);
  auto leaves = snapshot(diff.leaves);
  recorder rec;
  auto out = sync_diff(current, diff, rec.join_fn(), rec.leave_fn());
  PHX_FUZZ_CHECK(snapshot(current) == cur_before, "sync_diff modified the current state");
  PHX_FUZZ_CHECK(snapshot(diff.joins) == joins && snapshot(diff.leaves) == leaves,
                 "sync_diff modified the diff");
  check_well_formed(out);
  auto res = snapshot(out);

  // Keys: old ones keep their order, new ones follow in the order joined.
  std::vector<std::string> old_keys, new_keys;
  for (auto& e : res)
    (find(cur_before, e.key) ? old_keys : new_keys).push_back(e.key);
  PHX_FUZZ_CHECK(is_subsequence(old_keys, keys(cur_before)), "sync_diff reordered keys");
  PHX_FUZZ_CHECK(is_subsequence(new_keys, keys(joins)), "sync_diff made up a key");
  PHX_FUZZ_CHECK(std::equal(old_keys.begin(), old_keys.end(), keys(res).begin()),
                 "a new key came before an old one");

  for (auto& e : res) {
    auto* j = find(joins, e.key);
    auto* l = find(leaves, e.key);
    auto* c = find(cur_before, e.key);
    if (l != nullptr)
      for (auto* m : e.metas)
        PHX_FUZZ_CHECK(!has_ref(l->metas, phx_ref_of(*m)), "a left meta stayed under " + e.key);
    if (j != nullptr) {
      PHX_FUZZ_CHECK(e.fields == j->fields, "the joined presence's fields were not taken");
      if (l == nullptr)
        PHX_FUZZ_CHECK(e.metas.size() >= j->metas.size()
                         && std::equal(j->metas.begin(), j->metas.end(),
                                       e.metas.end() - j->metas.size()),
                       "joined metas are not last under " + e.key);
    } else {
      PHX_FUZZ_CHECK(c != nullptr && e.fields == c->fields, "fields changed without a join");
      if (l == nullptr)
        PHX_FUZZ_CHECK(e.metas == c->metas, "metas of an untouched key changed: " + e.key);
    }
  }
  // A key disappears only by a leave.
  for (auto* part : {&cur_before, &joins})
    for (auto& e : *part)
      PHX_FUZZ_CHECK(find(res, e.key) || find(leaves, e.key),
                     "key " + e.key + " vanished without a leave");

  // One on_join per joined key, then one on_leave per left key still present.
  size_t expected_leaves = 0;
  for (auto& e : leaves)
    if (find(cur_before, e.key) || find(joins, e.key))
      ++expected_leaves;
  PHX_FUZZ_CHECK(rec.lines.size() == joins.size() + expected_leaves,
                 "wrong number of join/leave callbacks");
  for (size_t i = 0; i < joins.size(); ++i)
    PHX_FUZZ_CHECK(rec.lines[i].rfind("join " + joins[i].key + " ", 0) == 0,
                   "on_join out of order");
  return out;
}

// -- sync_state ----------------------------------------------------------------

presence_state checked_sync_state(const presence_state& current, const presence_state& next) {
  auto cur_before = snapshot(current);
  auto next_before = snapshot(next);
  auto out = sync_state(current, next);
  PHX_FUZZ_CHECK(snapshot(current) == cur_before, "sync_state modified the current state");
  PHX_FUZZ_CHECK(snapshot(next) == next_before, "sync_state modified the next state");
  check_well_formed(out);
  auto res = snapshot(out);
  for (auto& e : res)
    PHX_FUZZ_CHECK(find(next_before, e.key), "sync_state kept a key the new state lacks");
  for (auto& n : next_before) {
    auto* e = find(res, n.key);
    if (!n.metas.empty()) {
      PHX_FUZZ_CHECK(e != nullptr && sorted_refs(e->metas) == sorted_refs(n.metas),
                     "sync_state: metas of " + n.key + " differ from the new state's");
    } else {
      // phoenix.js: an empty key joins when new, and leaves with its last meta.
      auto* c = find(cur_before, n.key);
      PHX_FUZZ_CHECK((e != nullptr) == (c == nullptr || c->metas.empty()),
                     "sync_state: the key " + n.key + " with no metas");
    }
  }
  std::vector<std::string> old_keys;
  for (auto& e : res)
    if (find(cur_before, e.key))
      old_keys.push_back(e.key);
  PHX_FUZZ_CHECK(is_subsequence(old_keys, keys(cur_before)), "sync_state reordered keys");
  PHX_FUZZ_CHECK(std::equal(old_keys.begin(), old_keys.end(), keys(res).begin()),
                 "a new key came before an old one");
  return out;
}

// -- the tracker against the same steps with the pure functions ---------------------

struct model {
  presence_state state;
  std::optional<std::string> join_ref;
  std::vector<presence_diff> pending;
  recorder rec;
};

std::optional<std::string> join_ref_of(char c) {
  if (c == '-')
    return std::nullopt;
  return std::string(1, c);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = phx_fuzz::text_of(data, size);
  presence_tracker tracker;
  recorder tracked;
  tracker.on_join = tracked.join_fn();
  tracker.on_leave = tracked.leave_fn();
  tracker.on_sync = [&tracked] { ++tracked.syncs; };
  model m;
  presence_state explored; // every line's state and diff applied in turn

  std::string_view rest = input;
  for (size_t line = 0; line < max_lines && !rest.empty(); ++line) {
    auto nl = rest.find('\n');
    auto record = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (record.size() < 2)
      continue;
    char op = record[0];
    auto join_ref = join_ref_of(record[1]);
    auto json = parse_json(record.substr(2));
    if (!json)
      continue;

    auto as_state = parse_presence_state(*json);
    auto as_diff = parse_presence_diff(*json);
    if (as_state) {
      check_well_formed(*as_state);
      check_to_json(*as_state);
      explored = checked_sync_state(explored, *as_state);
    } else {
      PHX_FUZZ_CHECK(as_state.error().code == errc::invalid_presence
                       && phx_fuzz::well_formed(as_state.error()),
                     as_state.error().to_string());
    }
    if (as_diff) {
      check_well_formed(as_diff->joins);
      check_well_formed(as_diff->leaves);
      explored = checked_sync_diff(explored, *as_diff);
    } else {
      PHX_FUZZ_CHECK(as_diff.error().code == errc::invalid_presence
                       && phx_fuzz::well_formed(as_diff.error()),
                     as_diff.error().to_string());
    }

    if (op == 's') {
      auto err = tracker.handle_state(*json, join_ref);
      PHX_FUZZ_CHECK(err.has_value() != as_state.has_value(),
                     "handle_state disagrees with parse_presence_state");
      if (as_state) {
        m.join_ref = join_ref;
        m.state = sync_state(m.state, *as_state, m.rec.join_fn(), m.rec.leave_fn());
        for (auto& d : m.pending)
          m.state = sync_diff(m.state, d, m.rec.join_fn(), m.rec.leave_fn());
        m.pending.clear();
        ++m.rec.syncs;
      }
    } else if (op == 'd') {
      auto err = tracker.handle_diff(*json, join_ref);
      PHX_FUZZ_CHECK(err.has_value() != as_diff.has_value(),
                     "handle_diff disagrees with parse_presence_diff");
      if (as_diff) {
        if (!m.join_ref || m.join_ref != join_ref) {
          m.pending.push_back(*as_diff);
        } else {
          m.state = sync_diff(m.state, *as_diff, m.rec.join_fn(), m.rec.leave_fn());
          ++m.rec.syncs;
        }
      }
    } else {
      continue;
    }
    PHX_FUZZ_CHECK(snapshot(tracker.state()) == snapshot(m.state),
                   "the tracker's presences differ from the pure functions'");
    PHX_FUZZ_CHECK(tracker.pending_diffs() == m.pending.size(), "pending diff count");
    PHX_FUZZ_CHECK(tracked.lines == m.rec.lines, "callbacks differ");
    PHX_FUZZ_CHECK(tracked.syncs == m.rec.syncs, "on_sync count");
    PHX_FUZZ_CHECK(tracker.in_pending_sync_state(join_ref)
                     == (!m.join_ref || m.join_ref != join_ref),
                   "in_pending_sync_state");
  }
  return 0;
}
