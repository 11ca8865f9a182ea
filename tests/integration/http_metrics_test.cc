// The metrics registry and its Prometheus text exposition.
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/metrics.h"

namespace prism::test {
namespace {

using metrics::Registry;

TEST(Metrics, RendersCounterWithLabels) {
  Registry registry;
  auto& family = registry.AddCounter("jobs_total", "Jobs done.", {"kind", "result"});

  family.WithLabels({"email", "ok"}).Inc(2);
  family.WithLabels({"email", "failed"}).Inc();

  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP jobs_total Jobs done.\n"
            "# TYPE jobs_total counter\n"
            "jobs_total{kind=\"email\",result=\"failed\"} 1\n"
            "jobs_total{kind=\"email\",result=\"ok\"} 2\n");
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Registry registry;
  auto& family = registry.AddGauge("depth", "Line one\nback\\slash", {"queue"});

  family.WithLabels({"a\"b\\c\nd"}).Set(1.5);

  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP depth Line one\\nback\\\\slash\n"
            "# TYPE depth gauge\n"
            "depth{queue=\"a\\\"b\\\\c\\nd\"} 1.5\n");
}

TEST(Metrics, RendersHistogramCumulativeBuckets) {
  Registry registry;
  auto& family = registry.AddHistogram("latency_seconds", "Latency.", {}, {0.1, 1});
  auto& histogram = family.WithLabels({});

  histogram.Observe(0.05);
  histogram.Observe(0.1);
  histogram.Observe(0.5);
  histogram.Observe(7);

  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.1\"} 2\n"
            "latency_seconds_bucket{le=\"1\"} 3\n"
            "latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "latency_seconds_sum 7.65\n"
            "latency_seconds_count 4\n");
}

TEST(Metrics, ReturnsSameFamilyForSameRegistration) {
  Registry registry;
  auto& first = registry.AddCounter("hits_total", "Hits.", {"route"});
  auto& second = registry.AddCounter("hits_total", "Hits.", {"route"});

  EXPECT_EQ(&first, &second);
  EXPECT_EQ(&first.WithLabels({"/a"}), &second.WithLabels({"/a"}));
}

TEST(Metrics, RejectsConflictingRegistration) {
  Registry registry;
  registry.AddCounter("hits_total", "Hits.", {"route"});

  EXPECT_THROW(registry.AddGauge("hits_total", "Hits.", {"route"}), std::invalid_argument);
  EXPECT_THROW(registry.AddCounter("hits_total", "Hits.", {"path"}), std::invalid_argument);
}

TEST(Metrics, RejectsInvalidNamesAndLabelCounts) {
  Registry registry;

  EXPECT_THROW(registry.AddCounter("2fast", "x"), std::invalid_argument);
  EXPECT_THROW(registry.AddCounter("has-dash", "x"), std::invalid_argument);
  EXPECT_THROW(registry.AddCounter("ok_total", "x", {"le"}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h", "x", {}, {1, 0.5}), std::invalid_argument);
  auto& family = registry.AddCounter("ok_total", "x", {"a"});
  EXPECT_THROW(family.WithLabels({"1", "2"}), std::invalid_argument);
}

TEST(Metrics, CountsConcurrentIncrements) {
  Registry registry;
  auto& counter = registry.AddCounter("events_total", "Events.").WithLabels({});
  auto& histogram = registry.AddHistogram("sizes", "Sizes.", {}, {10}).WithLabels({});

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100'000; ++i) {
        counter.Inc();
        histogram.Observe(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(counter.Value(), 400'000u);
  EXPECT_EQ(histogram.Read().count, 400'000u);
  EXPECT_DOUBLE_EQ(histogram.Read().sum, 400'000.0);
}

}  // namespace
}  // namespace prism::test
