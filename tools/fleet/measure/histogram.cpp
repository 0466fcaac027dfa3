#include "measure/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace phx::fleet {

namespace {

// HdrHistogram with 2 significant digits: 256 sub-buckets, of which the upper
// half repeats in each next power of two.
constexpr int sub_half_magnitude = 7;
constexpr int64_t sub_half_count = int64_t{1} << sub_half_magnitude;
constexpr int64_t sub_mask = 2 * sub_half_count - 1;

int bucket_of(int64_t v) noexcept {
  auto x = static_cast<uint64_t>(v | sub_mask);
  return (64 - __builtin_clzll(x)) - (sub_half_magnitude + 1);
}

} // namespace

size_t histogram::index_of(int64_t v) noexcept {
  v = std::clamp<int64_t>(v, 0, max_value_ns);
  auto b = bucket_of(v);
  auto sub = v >> b;
  return static_cast<size_t>(((b + 1) << sub_half_magnitude) + (sub - sub_half_count));
}

int64_t histogram::lowest_of(size_t index) noexcept {
  auto b = static_cast<int64_t>(index >> sub_half_magnitude) - 1;
  auto sub = static_cast<int64_t>(index & (sub_half_count - 1)) + sub_half_count;
  if (b < 0) {
    sub -= sub_half_count;
    b = 0;
  }
  return sub << b;
}

int64_t histogram::highest_of(size_t index) noexcept {
  auto b = std::max<int64_t>(static_cast<int64_t>(index >> sub_half_magnitude) - 1, 0);
  return lowest_of(index) + (int64_t{1} << b) - 1;
}

void histogram::record(int64_t value_ns, uint64_t n) {
  if (n == 0)
    return;
  value_ns = std::clamp<int64_t>(value_ns, 0, max_value_ns);
  auto i = index_of(value_ns);
  if (i >= counts_.size())
    counts_.resize(i + 1, 0);
  counts_[i] += n;
  total_ += n;
  max_ = std::max(max_, value_ns);
  sum_ += static_cast<long double>(value_ns) * n;
}

void histogram::merge(const histogram& other) {
  if (other.counts_.size() > counts_.size())
    counts_.resize(other.counts_.size(), 0);
  for (size_t i = 0; i < other.counts_.size(); ++i)
    counts_[i] += other.counts_[i];
  total_ += other.total_;
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

std::vector<uint64_t> histogram::sparse() const {
  std::vector<uint64_t> out;
  for (size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i] != 0) {
      out.push_back(i);
      out.push_back(counts_[i]);
    }
  return out;
}

void histogram::merge_sparse(const std::vector<uint64_t>& pairs, int64_t max_ns,
                             long double sum_ns) {
  // Bounded by the largest index a value can have: a bad peer cannot make us grow.
  static const size_t limit = index_of(max_value_ns) + 1;
  uint64_t added = 0;
  for (size_t k = 0; k + 1 < pairs.size(); k += 2) {
    auto i = pairs[k];
    if (i >= limit || pairs[k + 1] == 0)
      continue;
    if (i >= counts_.size())
      counts_.resize(i + 1, 0);
    counts_[i] += pairs[k + 1];
    added += pairs[k + 1];
  }
  if (added == 0)
    return;
  total_ += added;
  max_ = std::max(max_, std::clamp<int64_t>(max_ns, 0, max_value_ns));
  sum_ += sum_ns;
}

void histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
  max_ = 0;
  sum_ = 0;
}

int64_t histogram::value_at_quantile(double q) const {
  if (total_ == 0)
    return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
  rank = std::clamp<uint64_t>(rank, 1, total_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank)
      return std::min(highest_of(i), max_);
  }
  return max_;
}

double histogram::mean() const noexcept {
  return total_ == 0 ? 0.0 : static_cast<double>(sum_ / total_);
}

std::vector<std::pair<int64_t, uint64_t>> histogram::buckets() const {
  std::vector<std::pair<int64_t, uint64_t>> out;
  for (size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i] != 0)
      out.emplace_back(highest_of(i) + 1, counts_[i]);
  return out;
}

} // namespace phx::fleet
