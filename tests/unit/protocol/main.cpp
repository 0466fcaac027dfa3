#define BOOST_TEST_MODULE phx_protocol
#include <boost/test/unit_test.hpp>
