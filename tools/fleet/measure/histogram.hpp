#pragma once

// A log-bucketed latency histogram laid out as HdrHistogram's (2 significant
// digits: 128 linear sub-buckets per power of two), in nanoseconds.

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace phx::fleet {

/// Counts of values (nanoseconds, 1 ns .. about 73 min) in buckets whose width is
/// at most 1/128 of their lowest value: any percentile it returns lies within
/// 0.8 % of the exact one. Merging adds counts (never averages percentiles).
/// Not thread-safe: `metrics` guards its histograms.
class histogram {
public:
  /// Largest value recorded as itself; larger values are clamped to it.
  static constexpr int64_t max_value_ns = int64_t{1} << 42;

  /// Records `value_ns` (negative values count as 0) `n` times.
  void record(int64_t value_ns, uint64_t n = 1);

  /// Adds every count of `other` to this histogram.
  void merge(const histogram& other);

  /// Forgets every value.
  void reset();

  /// Number of values recorded.
  uint64_t count() const noexcept { return total_; }

  /// The value at quantile `q` in [0, 1] (nearest rank), as the highest value
  /// of its bucket; 0 when empty.
  int64_t value_at_quantile(double q) const;

  /// Largest value recorded (exact, unless clamped); 0 when empty.
  int64_t max() const noexcept { return max_; }

  /// Mean of the values (exact sum / count); 0 when empty.
  double mean() const noexcept;

  /// Non-empty buckets, ascending: (highest value of the bucket + 1 ns, count).
  std::vector<std::pair<int64_t, uint64_t>> buckets() const;

  /// Sum of the values recorded (for the mean of a merge).
  long double sum() const noexcept { return sum_; }

  /// Non-empty buckets as flat (index, count) pairs: the sparse form that
  /// crosses a node link.
  std::vector<uint64_t> sparse() const;

  /// Adds counts in the sparse form of `sparse()` with the sender's max and
  /// sum (merge by counts, as `merge`); pairs with a bad index are ignored.
  void merge_sparse(const std::vector<uint64_t>& pairs, int64_t max_ns, long double sum_ns);

  /// The raw counts (for tests: a merge equals one histogram fed everything).
  const std::vector<uint64_t>& counts() const noexcept { return counts_; }

  /// Bucket index of a value, and the lowest and highest value of an index.
  static size_t index_of(int64_t value_ns) noexcept;
  static int64_t lowest_of(size_t index) noexcept;
  static int64_t highest_of(size_t index) noexcept;

private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  int64_t max_ = 0;
  long double sum_ = 0;
};

} // namespace phx::fleet
