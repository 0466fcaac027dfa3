// The fleet's histogram: HdrHistogram's layout, merges by adding counts, and
// percentiles within 1 % of the exact ones.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "cluster/protocol.hpp"
#include "measure/histogram.hpp"
#include "measure/metrics.hpp"

using phx::fleet::histogram;

namespace {

// Nearest rank, as the histogram defines its quantiles.
int64_t exact_quantile(std::vector<int64_t> v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

// Latencies as a load test sees them: a lognormal body and a long tail, in ns.
std::vector<int64_t> generated(uint64_t seed, size_t n) {
  std::mt19937_64 rng{seed};
  std::lognormal_distribution<double> body{std::log(2e6), 0.6};
  std::exponential_distribution<double> tail{1.0 / 5e7};
  std::uniform_real_distribution<double> u{0, 1};
  std::vector<int64_t> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(static_cast<int64_t>(u(rng) < 0.02 ? tail(rng) + 1e6 : body(rng)) + 1);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(fleet_histogram)

BOOST_AUTO_TEST_CASE(bucket_width_is_at_most_one_percent_of_its_values) {
  // Every bucket up to the largest value: the highest value is within 1 % of the lowest.
  auto last = histogram::index_of(histogram::max_value_ns);
  for (size_t i = 0; i <= last; ++i) {
    auto lo = histogram::lowest_of(i);
    auto hi = histogram::highest_of(i);
    BOOST_REQUIRE_LE(lo, hi);
    BOOST_REQUIRE_EQUAL(histogram::index_of(lo), i);
    BOOST_REQUIRE_EQUAL(histogram::index_of(hi), i);
    if (lo > 0)
      BOOST_REQUIRE_LE(static_cast<double>(hi - lo) / static_cast<double>(lo), 0.01);
  }
}

BOOST_AUTO_TEST_CASE(percentiles_are_within_one_percent_of_exact_ones) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    auto values = generated(seed, 200000);
    histogram h;
    for (auto v : values)
      h.record(v);
    BOOST_REQUIRE_EQUAL(h.count(), values.size());
    for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
      auto exact = static_cast<double>(exact_quantile(values, q));
      auto got = static_cast<double>(h.value_at_quantile(q));
      BOOST_TEST_CONTEXT("seed " << seed << " q " << q << " exact " << exact << " got " << got)
      BOOST_CHECK_LE(std::abs(got - exact) / exact, 0.01);
    }
    BOOST_CHECK_EQUAL(h.max(), *std::max_element(values.begin(), values.end()));
  }
}

BOOST_AUTO_TEST_CASE(merge_equals_one_histogram_fed_every_sample) {
  auto values = generated(7, 100000);
  histogram all;
  std::vector<histogram> parts(5);
  for (size_t i = 0; i < values.size(); ++i) {
    all.record(values[i]);
    parts[i % parts.size()].record(values[i]);
  }
  histogram merged;
  for (auto& p : parts)
    merged.merge(p);
  BOOST_CHECK_EQUAL(merged.count(), all.count());
  BOOST_CHECK_EQUAL(merged.max(), all.max());
  BOOST_CHECK(merged.buckets() == all.buckets());
  for (double q : {0.5, 0.9, 0.99, 0.999})
    BOOST_CHECK_EQUAL(merged.value_at_quantile(q), all.value_at_quantile(q));
}

BOOST_AUTO_TEST_CASE(buckets_are_sparse_and_ascending) {
  histogram h;
  h.record(1000, 3);
  h.record(5000000);
  auto b = h.buckets();
  BOOST_REQUIRE_EQUAL(b.size(), 2u);
  BOOST_CHECK_LT(b[0].first, b[1].first);
  BOOST_CHECK_EQUAL(b[0].second, 3u);
  BOOST_CHECK_GT(b[0].first, 1000);
}

BOOST_AUTO_TEST_CASE(empty_histogram_reports_zero) {
  histogram h;
  BOOST_CHECK_EQUAL(h.value_at_quantile(0.99), 0);
  BOOST_CHECK_EQUAL(h.count(), 0u);
  BOOST_CHECK(h.buckets().empty());
}

BOOST_AUTO_TEST_SUITE_END()

// What crosses a node link: a worker's second as sparse (index, count) lists.
BOOST_AUTO_TEST_SUITE(fleet_wire)

BOOST_AUTO_TEST_CASE(sparse_histograms_merge_into_the_same_counts) {
  auto values = generated(11, 20000);
  histogram whole, a, b;
  for (size_t i = 0; i < values.size(); ++i) {
    whole.record(values[i]);
    (i % 3 ? a : b).record(values[i]);
  }
  histogram merged;
  merged.merge_sparse(a.sparse(), a.max(), a.sum());
  merged.merge_sparse(b.sparse(), b.max(), b.sum());
  BOOST_TEST(merged.counts() == whole.counts());
  BOOST_TEST(merged.count() == whole.count());
  BOOST_TEST(merged.max() == whole.max());
  BOOST_TEST(std::abs(merged.mean() - whole.mean()) < 1e-6 * whole.mean());
  // Sparse: only the non-empty buckets travel.
  BOOST_TEST(a.sparse().size() == 2 * a.buckets().size());
}

BOOST_AUTO_TEST_CASE(a_bad_peer_cannot_grow_a_histogram) {
  histogram h;
  h.merge_sparse({1u << 30, 5, 3}, 100, 500); // an index past the largest, and an odd tail
  BOOST_TEST(h.count() == 0u);
  BOOST_TEST(h.counts().size() == 0u);
}

BOOST_AUTO_TEST_CASE(workers_seconds_merged_equal_one_collector_fed_everything) {
  using namespace phx::fleet;
  metrics w1, w2, all, coordinator;
  auto feed = [](metrics& m, int64_t ns, bool ok) {
    m.latency(latency_kind::push, ns);
    m.outcome(op_kind::push, ok ? outcome_kind::ok : outcome_kind::timeout);
    m.push_sent();
    if (!ok)
      m.error("push_timeout");
  };
  auto values = generated(5, 3000);
  for (size_t i = 0; i < values.size(); ++i) {
    bool ok = i % 50 != 0;
    feed(i % 2 ? w1 : w2, values[i], ok);
    feed(all, values[i], ok);
    if (i % 1000 == 999) { // a second ends: each worker reports over the wire
      coordinator.merge(phx::fleet::cluster::from_wire(phx::fleet::cluster::to_wire(w1.take_delta())));
      coordinator.merge(phx::fleet::cluster::from_wire(phx::fleet::cluster::to_wire(w2.take_delta())));
      auto row = coordinator.take_second(static_cast<double>(i / 1000 + 1));
      BOOST_TEST(row.pushes_sent == 1000u);
      BOOST_TEST(row.replies_ok + row.timeouts == 1000u);
    }
  }
  auto t = coordinator.snapshot();
  auto u = all.snapshot();
  auto push = static_cast<size_t>(latency_kind::push);
  BOOST_TEST(t.latency[push].counts() == u.latency[push].counts());
  BOOST_TEST((t.outcomes == u.outcomes));
  BOOST_TEST((t.errors == u.errors));
  BOOST_TEST(t.pushes_sent == u.pushes_sent);
  // A malformed report merges as nothing.
  phx::fleet::cluster::worker_report bad;
  bad.outcomes = {1, 2, 3};
  coordinator.merge(phx::fleet::cluster::from_wire(bad));
  BOOST_TEST(coordinator.snapshot().pushes_sent == u.pushes_sent);
}

BOOST_AUTO_TEST_SUITE_END()
