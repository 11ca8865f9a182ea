// Throughput of the embedded storage's write paths: command admission (group commit) and event
// commits. Run: prism_storage_bench [--benchmark_filter=...]. The database lives in a fresh
// directory under $TMPDIR (default /tmp), so the figures include that disk's fsync.
//
// Admission runs as a closed loop: `callers` requests are in flight at once, and each completed
// admission makes its caller send the next one, from a pool of two threads standing in for the
// HTTP threads. One request carries `batch` commands.
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/config.h"
#include "sqlite/embedded_storage.h"

namespace {

using Clock = std::chrono::steady_clock;

// A fresh embedded store in a temporary directory, removed at the end.
class TempStore {
 public:
  TempStore() {
    const char* base = getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/prism-bench-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) abort();
    dir_ = pattern;
    prism::Config config;
    config.data_dir = dir_;
    config.admission_queue_limit = std::numeric_limits<int>::max();
    storage_ = prism::sqlite::OpenEmbeddedStorage(config);
  }

  ~TempStore() {
    storage_ = {};
    std::filesystem::remove_all(dir_);
  }

  prism::sqlite::EmbeddedStorage& storage() { return storage_; }

 private:
  std::string dir_;
  prism::sqlite::EmbeddedStorage storage_;
};

// The body of one create-task command, as the API queues it.
const std::string kBody =
    R"({"entityType":"task","type":"create-task","data":{"title":"Buy milk","category":"normal"}})";

// Runs `requests` admissions of `batch` commands with `callers` in flight; returns each
// request's latency in microseconds.
std::vector<int64_t> RunClosedLoop(prism::storage::CommandQueue& queue, int callers, int batch,
                                   int64_t requests, std::atomic<int64_t>* key_counter) {
  boost::asio::thread_pool http_threads(2);
  std::vector<int64_t> latencies(static_cast<size_t>(requests));
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex mutex;
  std::condition_variable finished;

  // Sends request number `index` and, when it is durable, the caller's next one.
  std::function<void()> send = [&] {
    int64_t index = next.fetch_add(1);
    if (index >= requests) return;
    std::vector<prism::storage::NewCommand> commands;
    for (int i = 0; i < batch; ++i) {
      int64_t key = key_counter->fetch_add(1);
      commands.push_back(prism::storage::NewCommand{"user-" + std::to_string(index % 1000),
                                                    "key-" + std::to_string(key), 0, kBody});
    }
    auto started = Clock::now();
    queue.Enqueue(std::move(commands), [&, index, started](std::optional<std::string> failure) {
      if (failure) abort();
      latencies[static_cast<size_t>(index)] =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
      if (done.fetch_add(1) + 1 == requests) {
        std::lock_guard lock(mutex);
        finished.notify_all();
        return;
      }
      boost::asio::post(http_threads, send);
    });
  };
  for (int i = 0; i < callers; ++i) boost::asio::post(http_threads, send);

  {
    std::unique_lock lock(mutex);
    finished.wait(lock, [&] { return done.load() == requests; });
  }
  http_threads.join();  // no handler may outlive the locals it refers to
  return latencies;
}

// CPU time of the whole process (every thread) so far, in microseconds.
double ProcessCpuMicros() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto micros = [](const timeval& t) { return t.tv_sec * 1e6 + static_cast<double>(t.tv_usec); };
  return micros(usage.ru_utime) + micros(usage.ru_stime);
}

int64_t Percentile(std::vector<int64_t> values, double fraction) {
  if (values.empty()) return 0;
  size_t rank = static_cast<size_t>(fraction * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(rank), values.end());
  return values[rank];
}

// Args: callers in flight, commands per request.
void BM_Enqueue(benchmark::State& state) {
  const int callers = static_cast<int>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  // Enough requests for a steady state, but few for one caller, which waits for every fsync.
  const int64_t requests_per_iteration = std::min<int64_t>(40'000 / batch, 1'000 * callers);
  TempStore store;
  std::atomic<int64_t> key_counter{0};
  std::vector<int64_t> latencies;
  const double cpu_before = ProcessCpuMicros();

  for (auto _ : state) {
    std::vector<int64_t> run = RunClosedLoop(*store.storage().commands, callers, batch,
                                             requests_per_iteration, &key_counter);
    latencies.insert(latencies.end(), run.begin(), run.end());
  }

  const auto requests = static_cast<double>(state.iterations() * requests_per_iteration);
  state.counters["requests/s"] = benchmark::Counter(requests, benchmark::Counter::kIsRate);
  state.counters["commands/s"] = benchmark::Counter(requests * batch, benchmark::Counter::kIsRate);
  state.counters["cpu_us/cmd"] = (ProcessCpuMicros() - cpu_before) / (requests * batch);
  state.counters["p50_us"] = static_cast<double>(Percentile(latencies, 0.50));
  state.counters["p99_us"] = static_cast<double>(Percentile(latencies, 0.99));
}
BENCHMARK(BM_Enqueue)
    ->ArgNames({"callers", "batch"})
    ->Args({1, 1})
    ->Args({64, 1})
    ->Args({256, 1})
    ->Args({64, 8})
    ->Args({256, 8})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

// Leases and acknowledges queued commands `per_lease` at a time, as the domain worker does.
void BM_LeaseAck(benchmark::State& state) {
  const int per_lease = static_cast<int>(state.range(0));
  TempStore store;
  prism::storage::CommandQueue& queue = *store.storage().commands;
  std::atomic<int64_t> key_counter{0};
  int64_t handled = 0;

  for (auto _ : state) {
    state.PauseTiming();
    if (queue.Depth() < per_lease) RunClosedLoop(queue, 64, 8, 5'000, &key_counter);
    state.ResumeTiming();
    std::vector<prism::storage::QueuedCommand> leased =
        queue.Lease("bench", static_cast<size_t>(per_lease), std::chrono::seconds(60),
                    std::chrono::milliseconds(0));
    std::vector<std::string> ids;
    for (const auto& message : leased) ids.push_back(message.message_id);
    queue.Ack(ids);
    handled += static_cast<int64_t>(leased.size());
  }

  state.counters["commands/s"] =
      benchmark::Counter(static_cast<double>(handled), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LeaseAck)->ArgName("per_lease")->Arg(32)->Arg(256)->UseRealTime()->MinTime(2.0);

// Commits `requests` single-event commands per Commit call, from one thread, as the domain
// worker does. Arg: requests per call.
void BM_Commit(benchmark::State& state) {
  const int per_call = static_cast<int>(state.range(0));
  TempStore store;
  int64_t seq = 0;
  int64_t appended = 0;
  const double cpu_before = ProcessCpuMicros();

  for (auto _ : state) {
    ++seq;
    std::vector<prism::storage::CommitRequest> requests;
    for (int i = 0; i < per_call; ++i) {
      std::string user = "user-" + std::to_string(i);
      std::string key = "key-" + std::to_string(seq) + "-" + std::to_string(i);
      prism::domain::Event event;
      event.id = key;
      event.entity_id = "task-" + std::to_string(seq) + "-" + std::to_string(i);
      event.type = "task-created";
      event.data["title"] = "Buy milk";
      event.data["category"] = "normal";
      event.version = 1;
      event.user_id = user;
      event.idempotency_key = key;
      prism::storage::CommitRequest request;
      request.user_id = user;
      request.user_seq = seq;
      request.idempotency_key = key;
      request.outcome =
          prism::storage::CommandOutcome{prism::storage::OutcomeStatus::kCompleted, "", 0};
      request.events.push_back(std::move(event));
      requests.push_back(std::move(request));
    }
    auto results = store.storage().events->Commit(requests);
    if (results.back().status != prism::storage::CommitStatus::kCommitted) abort();
    appended += per_call;
  }

  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(appended), benchmark::Counter::kIsRate);
  state.counters["cpu_us/event"] =
      (ProcessCpuMicros() - cpu_before) / static_cast<double>(appended);
}
BENCHMARK(BM_Commit)->ArgName("per_call")->Arg(1)->Arg(32)->Arg(256)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
