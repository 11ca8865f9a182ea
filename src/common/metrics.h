// A small thread-safe metrics registry with Prometheus text exposition (format 0.0.4).
//
// Counters, gauges and fixed-bucket histograms, each in a family with named labels. Looking up
// a labelled series takes the family's mutex, so hot paths look a series up once and keep the
// returned reference: series are never removed, and references stay valid for the life of the
// registry. Updates through such a reference are lock-free (relaxed atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace prism::metrics {

using LabelValues = std::vector<std::string>;

// A monotonically increasing count.
class Counter {
 public:
  void Inc(uint64_t amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void Inc() { Add(1); }
  void Dec() { Add(-1); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted in fixed buckets given by their upper bounds (inclusive, as in
// Prometheus); a +Inf bucket is implied.
class Histogram {
 public:
  // Throws std::invalid_argument unless `upper_bounds` is strictly increasing and finite.
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  // Cumulative bucket counts (one per bound, then +Inf), their sum and the total count. The total
  // always equals the +Inf bucket, even while other threads observe.
  struct Snapshot {
    std::vector<uint64_t> cumulative_counts;
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> bucket_counts_;  // upper_bounds_.size() + 1 entries
  std::atomic<double> sum_{0};
};

// Bucket bounds in seconds for request latencies, from 0.5 ms to 10 s.
std::vector<double> LatencyBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// All series of one metric name, one per combination of label values.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> upper_bounds = {});

  // Returns the series for these label values, creating it on first use. Throws
  // std::invalid_argument when the number of values differs from the number of label names.
  Metric& WithLabels(const LabelValues& values);
  Metric& WithLabels(std::initializer_list<std::string_view> values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends the series of this family in the text format, sorted by label values.
  void Render(std::string& out) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> upper_bounds_;  // histograms only
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Metric>> series_;  // guarded by mutex_
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  // The process-wide registry that /metrics serves.
  static Registry& Default();

  // Each returns the family of that name, creating it on first use. Registering a name again
  // with the same type and label names returns the existing family, so several components (or
  // several servers in one test) can share it. Throws std::invalid_argument when the name is not
  // a valid metric name, a label name is invalid, or the name exists with another type or other
  // label names.
  CounterFamily& AddCounter(const std::string& name, const std::string& help,
                            const std::vector<std::string>& label_names = {});
  GaugeFamily& AddGauge(const std::string& name, const std::string& help,
                        const std::vector<std::string>& label_names = {});
  HistogramFamily& AddHistogram(const std::string& name, const std::string& help,
                                const std::vector<std::string>& label_names,
                                std::vector<double> upper_bounds);

  // Renders every family, sorted by name, in the Prometheus text format.
  std::string RenderPrometheus() const;

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<CounterFamily> counters;
    std::unique_ptr<GaugeFamily> gauges;
    std::unique_ptr<HistogramFamily> histograms;
  };

  Entry& FindOrAdd(MetricType type, const std::string& name, const std::string& help,
                   const std::vector<std::string>& label_names, std::vector<double> upper_bounds);

  mutable std::mutex mutex_;
  std::map<std::string, Entry> families_;  // guarded by mutex_
};

// Renders Registry::Default().
std::string RenderPrometheus();

// Escapes a label value for the text format: backslash, double quote and line feed.
std::string EscapeLabelValue(std::string_view value);

}  // namespace prism::metrics
