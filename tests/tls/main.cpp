// The TLS and secrets suite: wss through the facade, secrets at the socket level.
#define BOOST_TEST_MODULE phx_tls
#include <boost/test/unit_test.hpp>
