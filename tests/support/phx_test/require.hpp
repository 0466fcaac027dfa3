#pragma once

// PHX_REQUIRE_VALUE(optional): the value of an optional (a push's
// `wait_for(...)` or `outcome()`, any wait that may time out), or a failed
// test at the line that asked for it. An empty optional is never dereferenced:
//
//   BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(ch.push("echo").wait_for(10s)).status, "ok");

#include <optional>
#include <utility>

#include <boost/test/unit_test.hpp>

/// Evaluates the optional once and yields its value. A macro, so that a
/// failure names the caller's file, line and expression, not this header's.
#define PHX_REQUIRE_VALUE(...)                                                    \
  ([&] {                                                                          \
    auto phx_required_ = (__VA_ARGS__);                                           \
    BOOST_REQUIRE_MESSAGE(phx_required_.has_value(),                              \
                          "no value (timed out?): " #__VA_ARGS__);                \
    return std::move(*phx_required_);                                             \
  }())
