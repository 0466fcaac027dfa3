#define BOOST_TEST_MODULE phx_actors
#include <boost/test/unit_test.hpp>
