// Presence as phoenix.js 1.8 does it (presence_test.js), as pure functions.
#include <boost/test/unit_test.hpp>

#include <map>

#include "phx/protocol/presence.hpp"

using namespace phx::protocol;

namespace {

json_ptr js(const char* text) {
  auto v = parse_json(std::string_view{text});
  BOOST_REQUIRE_MESSAGE(v, text);
  return *v;
}

presence_state state_of(const char* text) {
  auto s = parse_presence_state(js(text));
  BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.error().to_string()));
  return std::move(*s);
}

presence_diff diff_of(const char* joins, const char* leaves) {
  std::string text = std::string{"{\"joins\":"} + joins + ",\"leaves\":" + leaves + "}";
  auto d = parse_presence_diff(js(text.c_str()));
  BOOST_REQUIRE_MESSAGE(d, (d ? "" : d.error().to_string()));
  return std::move(*d);
}

std::string dump(const presence_state& s) {
  auto doc = to_json(s);
  return *to_json_string(doc);
}

std::string dump(const presence& p) {
  auto doc = to_json(p);
  return *to_json_string(doc);
}

// What the callbacks saw, in order, as text.
struct recorder {
  std::vector<std::string> events;
  presence_join_fn on_join() {
    return [this](const std::string& key, const presence* current, const presence& joined) {
      events.push_back("join " + key + " current=" + (current ? dump(*current) : "none")
                       + " new=" + dump(joined));
    };
  }
  presence_leave_fn on_leave() {
    return [this](const std::string& key, const presence& current, const presence& left) {
      events.push_back("leave " + key + " current=" + dump(current) + " left=" + dump(left));
    };
  }
};

constexpr const char* fixture_state
  = R"({"u1":{"metas":[{"id":1,"phx_ref":"1"}]},"u2":{"metas":[{"id":2,"phx_ref":"2"}]},"u3":{"metas":[{"id":3,"phx_ref":"3"}]}})";
constexpr const char* fixture_joins = R"({"u1":{"metas":[{"id":1,"phx_ref":"1.2"}]}})";
constexpr const char* fixture_leaves = R"({"u2":{"metas":[{"id":2,"phx_ref":"2"}]}})";

} // namespace

BOOST_AUTO_TEST_SUITE(presence_functions)

BOOST_AUTO_TEST_CASE(sync_state_does_not_mutate_its_input_and_returns_the_new_state) {
  presence_state empty;
  auto next = state_of(R"({"u1":{"metas":[{"id":1,"phx_ref":"1"}]}})");
  auto before_next = dump(next);
  auto out = sync_state(empty, next);
  BOOST_CHECK(empty.empty());
  BOOST_CHECK_EQUAL(dump(next), before_next);
  BOOST_CHECK_EQUAL(dump(out), before_next);
}

BOOST_AUTO_TEST_CASE(sync_state_reports_new_keys_as_joins_and_vanished_keys_as_leaves) {
  auto state = sync_state({}, state_of(R"({"u4":{"metas":[{"id":4,"phx_ref":"4"}]}})"));
  recorder rec;
  auto out = sync_state(state, state_of(fixture_state), rec.on_join(), rec.on_leave());
  BOOST_CHECK_EQUAL(dump(out), dump(state_of(fixture_state)));
  std::vector<std::string> want = {
    R"(join u1 current=none new={"metas":[{"id":1,"phx_ref":"1"}]})",
    R"(join u2 current=none new={"metas":[{"id":2,"phx_ref":"2"}]})",
    R"(join u3 current=none new={"metas":[{"id":3,"phx_ref":"3"}]})",
    R"(leave u4 current={"metas":[]} left={"metas":[{"id":4,"phx_ref":"4"}]})"};
  BOOST_CHECK_EQUAL_COLLECTIONS(rec.events.begin(), rec.events.end(), want.begin(), want.end());
}

BOOST_AUTO_TEST_CASE(sync_state_joins_only_newly_added_metas) {
  auto state = state_of(R"({"u3":{"metas":[{"id":3,"phx_ref":"3"}]}})");
  auto next = state_of(R"({"u3":{"metas":[{"id":3,"phx_ref":"3"},{"id":3,"phx_ref":"3.new"}]}})");
  recorder rec;
  auto out = sync_state(state, next, rec.on_join(), rec.on_leave());
  BOOST_CHECK_EQUAL(dump(out), dump(next));
  BOOST_REQUIRE_EQUAL(rec.events.size(), 1u);
  BOOST_CHECK_EQUAL(rec.events[0],
    R"(join u3 current={"metas":[{"id":3,"phx_ref":"3"}]} new={"metas":[{"id":3,"phx_ref":"3.new"}]})");
}

BOOST_AUTO_TEST_CASE(sync_diff_joins_into_an_empty_state) {
  presence_state empty;
  auto out = sync_diff(empty, diff_of(R"({"u1":{"metas":[{"id":1,"phx_ref":"1"}]}})", "{}"));
  BOOST_CHECK(empty.empty());
  BOOST_CHECK_EQUAL(dump(out), R"({"u1":{"metas":[{"id":1,"phx_ref":"1"}]}})");
}

BOOST_AUTO_TEST_CASE(sync_diff_removes_empty_keys_and_adds_new_metas_after_existing_ones) {
  auto state = sync_state({}, state_of(fixture_state));
  auto before = dump(state);
  auto out = sync_diff(state, diff_of(fixture_joins, fixture_leaves));
  BOOST_CHECK_EQUAL(dump(state), before);
  BOOST_CHECK_EQUAL(dump(out),
    R"({"u1":{"metas":[{"id":1,"phx_ref":"1"},{"id":1,"phx_ref":"1.2"}]},"u3":{"metas":[{"id":3,"phx_ref":"3"}]}})");
}

BOOST_AUTO_TEST_CASE(sync_diff_removes_one_meta_and_keeps_the_key) {
  auto state = state_of(R"({"u1":{"metas":[{"id":1,"phx_ref":"1"},{"id":1,"phx_ref":"1.2"}]}})");
  auto out = sync_diff(state, diff_of("{}", R"({"u1":{"metas":[{"id":1,"phx_ref":"1"}]}})"));
  BOOST_CHECK_EQUAL(dump(out), R"({"u1":{"metas":[{"id":1,"phx_ref":"1.2"}]}})");
}

BOOST_AUTO_TEST_CASE(sync_diff_ignores_leaves_of_unknown_keys) {
  auto state = state_of(R"({"u1":{"metas":[{"phx_ref":"1"}]}})");
  recorder rec;
  auto out = sync_diff(state, diff_of("{}", R"({"ghost":{"metas":[{"phx_ref":"9"}]}})"),
                       rec.on_join(), rec.on_leave());
  BOOST_CHECK_EQUAL(dump(out), dump(state));
  BOOST_CHECK(rec.events.empty());
}

BOOST_AUTO_TEST_CASE(an_update_as_leave_plus_join_with_phx_ref_prev_replaces_the_meta) {
  auto state = state_of(R"({"u1":{"metas":[{"status":"away","phx_ref":"A"}]}})");
  recorder rec;
  auto out = sync_diff(state,
                       diff_of(R"({"u1":{"metas":[{"status":"busy","phx_ref":"B","phx_ref_prev":"A"}]}})",
                               R"({"u1":{"metas":[{"status":"away","phx_ref":"A"}]}})"),
                       rec.on_join(), rec.on_leave());
  BOOST_CHECK_EQUAL(dump(out),
                    R"({"u1":{"metas":[{"status":"busy","phx_ref":"B","phx_ref_prev":"A"}]}})");
  BOOST_REQUIRE_EQUAL(rec.events.size(), 2u);
  // onJoin receives current = the old meta.
  BOOST_CHECK_EQUAL(rec.events[0],
    R"(join u1 current={"metas":[{"status":"away","phx_ref":"A"}]} new={"metas":[{"status":"busy","phx_ref":"B","phx_ref_prev":"A"}]})");
}

BOOST_AUTO_TEST_CASE(keys_keep_their_insertion_order_and_odd_names_are_plain_keys) {
  auto state = state_of(
    R"({"zeta":{"metas":[{"phx_ref":"1"}]},"__proto__":{"metas":[{"phx_ref":"2"}]},"constructor":{"metas":[{"phx_ref":"3"}]},"hasOwnProperty":{"metas":[{"phx_ref":"4"}]},"alpha":{"metas":[{"phx_ref":"5"}]}})");
  auto keys = list(state, [](const std::string& k, const presence&) { return k; });
  std::vector<std::string> want = {"zeta", "__proto__", "constructor", "hasOwnProperty", "alpha"};
  BOOST_CHECK_EQUAL_COLLECTIONS(keys.begin(), keys.end(), want.begin(), want.end());
  // A key joined again keeps its place.
  auto out = sync_diff(state, diff_of(R"({"zeta":{"metas":[{"phx_ref":"6"}]}})", "{}"));
  BOOST_CHECK_EQUAL(out.begin()->first, "zeta");
  BOOST_CHECK_EQUAL(out.begin()->second.metas.size(), 2u);
}

BOOST_AUTO_TEST_CASE(list_returns_full_presences_or_what_the_chooser_picks) {
  auto state = sync_state({}, state_of(fixture_state));
  auto all = list(state, [](const std::string&, const presence& p) { return dump(p); });
  std::vector<std::string> want = {R"({"metas":[{"id":1,"phx_ref":"1"}]})",
                                   R"({"metas":[{"id":2,"phx_ref":"2"}]})",
                                   R"({"metas":[{"id":3,"phx_ref":"3"}]})"};
  BOOST_CHECK_EQUAL_COLLECTIONS(all.begin(), all.end(), want.begin(), want.end());
  auto two = state_of(R"({"u1":{"metas":[{"id":1,"phx_ref":"1.first"},{"id":1,"phx_ref":"1.second"}]}})");
  auto first = list(two, [](const std::string&, const presence& p) {
    return std::string{phx_ref_of(*p.metas.front())};
  });
  BOOST_REQUIRE_EQUAL(first.size(), 1u);
  BOOST_CHECK_EQUAL(first[0], "1.first");
}

BOOST_AUTO_TEST_CASE(extra_presence_fields_are_kept) {
  auto state = state_of(R"({"u1":{"metas":[{"phx_ref":"1"}],"user":{"name":"Ann"}}})");
  BOOST_CHECK_EQUAL(dump(state), R"({"u1":{"metas":[{"phx_ref":"1"}],"user":{"name":"Ann"}}})");
}

BOOST_AUTO_TEST_CASE(malformed_payloads_are_refused_with_a_reason) {
  for (auto bad : {R"([])", R"({"u1":1})", R"({"u1":{}})", R"({"u1":{"metas":{}}})",
                   R"({"u1":{"metas":[1]}})", R"({"u1":{"metas":[{"id":1}]}})",
                   R"({"u1":{"metas":[{"phx_ref":7}]}})"}) {
    auto s = parse_presence_state(js(bad));
    BOOST_CHECK_MESSAGE(!s, bad);
    if (!s)
      BOOST_CHECK(s.error().code == errc::invalid_presence);
  }
  BOOST_CHECK(!parse_presence_diff(js(R"({"joins":[]})")));
  BOOST_CHECK(!parse_presence_diff(js(R"("x")")));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(presence_tracking)

BOOST_AUTO_TEST_CASE(state_then_diff_apply_and_sync) {
  presence_tracker t;
  int syncs = 0;
  t.on_sync = [&] { ++syncs; };
  std::optional<std::string> jr{"3"};
  BOOST_CHECK(!t.handle_state(js(fixture_state), jr));
  BOOST_CHECK(!t.handle_diff(js(R"({"joins":{"u4":{"metas":[{"phx_ref":"4"}]}},"leaves":{}})"), jr));
  BOOST_CHECK_EQUAL(syncs, 2);
  BOOST_CHECK_EQUAL(t.state().size(), 4u);
}

BOOST_AUTO_TEST_CASE(a_diff_before_the_first_state_is_queued_then_applied) {
  presence_tracker t;
  recorder rec;
  t.on_join = rec.on_join();
  t.on_leave = rec.on_leave();
  int syncs = 0;
  t.on_sync = [&] { ++syncs; };
  std::optional<std::string> jr{"3"};
  BOOST_CHECK(!t.handle_diff(js(R"({"joins":{},"leaves":{"u2":{"metas":[{"id":2,"phx_ref":"2"}]}}})"), jr));
  BOOST_CHECK_EQUAL(t.pending_diffs(), 1u);
  BOOST_CHECK_EQUAL(syncs, 0);
  BOOST_CHECK(rec.events.empty());
  BOOST_CHECK(!t.handle_state(js(R"({"u1":{"metas":[{"id":1,"phx_ref":"1"}]},"u2":{"metas":[{"id":2,"phx_ref":"2"}]}})"), jr));
  BOOST_CHECK_EQUAL(t.pending_diffs(), 0u);
  BOOST_CHECK_EQUAL(syncs, 1);
  BOOST_CHECK_EQUAL(dump(t.state()), R"({"u1":{"metas":[{"id":1,"phx_ref":"1"}]}})");
  // onJoin for u1 and u2 (from the state), then onLeave for u2 (the queued diff).
  BOOST_REQUIRE_EQUAL(rec.events.size(), 3u);
  BOOST_CHECK(rec.events[0].rfind("join u1", 0) == 0);
  BOOST_CHECK(rec.events[1].rfind("join u2", 0) == 0);
  BOOST_CHECK(rec.events[2].rfind("leave u2", 0) == 0);
}

BOOST_AUTO_TEST_CASE(after_a_rejoin_diffs_wait_for_the_new_state) {
  presence_tracker t;
  BOOST_CHECK(!t.handle_state(js(fixture_state), std::string{"3"}));
  BOOST_CHECK(!t.in_pending_sync_state(std::string{"3"}));
  // The channel rejoined: its join_ref is now "9".
  BOOST_CHECK(t.in_pending_sync_state(std::string{"9"}));
  BOOST_CHECK(!t.handle_diff(js(R"({"joins":{"u9":{"metas":[{"phx_ref":"9"}]}},"leaves":{}})"),
                             std::string{"9"}));
  BOOST_CHECK_EQUAL(t.pending_diffs(), 1u);
  BOOST_CHECK(t.state().find("u9") == nullptr);
  BOOST_CHECK(!t.handle_state(js(R"({"u1":{"metas":[{"id":1,"phx_ref":"1"}]}})"), std::string{"9"}));
  BOOST_CHECK(t.state().find("u9") != nullptr);
  BOOST_CHECK(t.state().find("u2") == nullptr);
}

BOOST_AUTO_TEST_CASE(queued_diffs_are_bounded_and_an_overflow_is_reported) {
  presence_tracker t;
  auto diff = js(R"({"joins":{},"leaves":{}})");
  for (size_t i = 0; i < presence_tracker::max_pending_diffs; ++i)
    BOOST_REQUIRE(!t.handle_diff(diff, std::string{"1"}));
  auto err = t.handle_diff(diff, std::string{"1"});
  BOOST_REQUIRE(err);
  BOOST_CHECK(err->what.find("dropped") != std::string::npos);
  BOOST_CHECK_EQUAL(t.pending_diffs(), presence_tracker::max_pending_diffs);
}

BOOST_AUTO_TEST_CASE(a_malformed_payload_leaves_the_state_untouched) {
  presence_tracker t;
  BOOST_CHECK(!t.handle_state(js(fixture_state), std::string{"1"}));
  BOOST_CHECK(t.handle_state(js(R"({"u1":5})"), std::string{"1"}));
  BOOST_CHECK(t.handle_diff(js(R"({"joins":5})"), std::string{"1"}));
  BOOST_CHECK_EQUAL(t.state().size(), 3u);
}

BOOST_AUTO_TEST_SUITE_END()
