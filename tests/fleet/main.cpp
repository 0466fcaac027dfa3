// The Boost.Test runner of the fleet suites.
#define BOOST_TEST_MODULE phx_fleet
#include <boost/test/unit_test.hpp>
