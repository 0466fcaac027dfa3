#pragma once

// PHX_REQUIRE_VALUE(optional): the value of an optional (a push's
// `wait_for(...)` or `outcome()`, any wait that may time out), or a failed
// test at the line that asked for it. An empty optional is never dereferenced:
//
//   BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(ch.push("echo").wait_for(10s)).status, "ok");

#include <cstddef>
#include <optional>
#include <utility>

#include <boost/test/unit_test.hpp>

namespace phx_test::detail {

/// The value of `opt`; an empty one fails the test as BOOST_REQUIRE does, at
/// `file`:`line` (Boost.Test's own reporting call, which BOOST_REQUIRE_MESSAGE
/// makes too, so that the failure names the caller's line, not this header's).
template <class T>
T require_value(std::optional<T> opt, const char* expr, const char* file, std::size_t line) {
  ::boost::unit_test::unit_test_log.set_checkpoint(::boost::unit_test::const_string{file}, line);
  ::boost::test_tools::tt_detail::report_assertion(
    opt.has_value(),
    ::boost::unit_test::lazy_ostream::instance() << "no value (a wait timed out?): " << expr,
    ::boost::unit_test::const_string{file}, line, ::boost::test_tools::tt_detail::REQUIRE,
    ::boost::test_tools::tt_detail::CHECK_MSG, 0);
  return std::move(*opt);
}

} // namespace phx_test::detail

/// Evaluates the optional once and yields its value (a macro for the caller's
/// file, line and expression).
#define PHX_REQUIRE_VALUE(...)                                                                 \
  ::phx_test::detail::require_value((__VA_ARGS__), #__VA_ARGS__, __FILE__,                     \
                                    static_cast<std::size_t>(__LINE__))
