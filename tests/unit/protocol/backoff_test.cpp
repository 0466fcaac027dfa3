#include <boost/test/unit_test.hpp>

#include "phx/protocol/backoff.hpp"

using namespace phx::protocol;

BOOST_AUTO_TEST_SUITE(backoff)

BOOST_AUTO_TEST_CASE(reconnect_steps_are_1_2_5_10_then_10_seconds) {
  BOOST_CHECK_EQUAL(default_reconnect_after_ms(1), 1000);
  BOOST_CHECK_EQUAL(default_reconnect_after_ms(2), 2000);
  BOOST_CHECK_EQUAL(default_reconnect_after_ms(3), 5000);
  BOOST_CHECK_EQUAL(default_reconnect_after_ms(4), 10000);
  BOOST_CHECK_EQUAL(default_reconnect_after_ms(5), 10000);
  BOOST_CHECK_EQUAL(default_reconnect_after_ms(1000), 10000);
  BOOST_CHECK_EQUAL(default_reconnect_after_ms(0), 10000);
}

BOOST_AUTO_TEST_CASE(rejoin_steps_are_1_2_5_then_10_seconds) {
  BOOST_CHECK_EQUAL(default_rejoin_after_ms(1), 1000);
  BOOST_CHECK_EQUAL(default_rejoin_after_ms(2), 2000);
  BOOST_CHECK_EQUAL(default_rejoin_after_ms(3), 5000);
  BOOST_CHECK_EQUAL(default_rejoin_after_ms(4), 10000);
  BOOST_CHECK_EQUAL(default_rejoin_after_ms(99), 10000);
}

BOOST_AUTO_TEST_CASE(jitter_adds_at_most_the_window) {
  BOOST_CHECK_EQUAL(jittered(1000, 0, 0.7), 1000);
  BOOST_CHECK_EQUAL(jittered(1000, 3000, 0.0), 1000);
  BOOST_CHECK_EQUAL(jittered(1000, 3000, 0.5), 2500);
  BOOST_CHECK_LT(jittered(1000, 3000, 1.0), 4000);
  BOOST_CHECK_EQUAL(jittered(1000, 3000, -1.0), 1000);
}

BOOST_AUTO_TEST_SUITE_END()
