#define BOOST_TEST_MODULE phx_transport
#include <boost/test/unit_test.hpp>

#include "phx/transport/transport.hpp"

namespace {

/// Two io threads for the whole run: connections alternate between them, so
/// the round-robin and both threads' endpoints are exercised.
struct two_io_threads {
  two_io_threads() {
    phx::transport::io_runtime::instance(2);
  }
};

} // namespace

BOOST_TEST_GLOBAL_FIXTURE(two_io_threads);
