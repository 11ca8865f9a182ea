// Cost of the request hot paths outside storage: parsing a command batch as POST /api/commands
// does, serialising a first page of 30 tasks as GET /api/tasks does on a cache miss, and encoding
// and decoding page tokens. Token verification is in prism_auth_bench. Run: prism_api_bench.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include "domain/command.h"
#include "domain/read_model.h"
#include "query/page_token.h"

namespace {

namespace json = boost::json;
namespace domain = prism::domain;
namespace query = prism::query;

constexpr const char* kUser = "auth0|64f1c2d3e4b5a69788990011";
constexpr const char* kPageKey = "benchmark-page-token-key-of-32-bytes";

// A batch of `size` create-task commands, as a client sends it.
std::string CommandBatch(int size) {
  std::string body = "[";
  for (int i = 0; i < size; ++i) {
    if (i > 0) body += ",";
    body += R"({"idempotencyKey":"0b6f3c1e-8a2d-4f5b-9c7e-)" + std::to_string(100000000000 + i) +
            R"(","entityType":"task","type":"create-task","data":{"id":"5f0c2a9e-3b1d-4e8f-a6c4-)" +
            std::to_string(200000000000 + i) +
            R"(","title":"Write the quarterly report","category":"normal","order":)" +
            std::to_string(i) + "}}";
  }
  return body + "]";
}

void BM_ParseCommandBatch(benchmark::State& state) {
  std::string body = CommandBatch(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto parsed = domain::ParseCommandBatch(body);
    if (!std::holds_alternative<std::vector<domain::Command>>(parsed)) {
      state.SkipWithError(std::get<domain::AdmissionError>(parsed).message.c_str());
      break;
    }
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}

// Thirty tasks shaped like a real board: a third with notes, a fifth done.
std::vector<domain::TaskRow> Tasks() {
  std::vector<domain::TaskRow> tasks(30);
  for (int i = 0; i < 30; ++i) {
    domain::TaskRow& task = tasks[i];
    task.id = "5f0c2a9e-3b1d-4e8f-a6c4-" + std::to_string(200000000000 + i);
    task.user_id = kUser;
    task.title = "Seeded task " + std::to_string(i) + " with a realistic title";
    if (i % 3 == 0) task.notes = "Notes of task " + std::to_string(i) + ", two lines\nof text.";
    task.category = i % 2 ? "normal" : "urgent";
    task.order = i;
    task.done = i % 5 == 0;
    task.version = 1;
    task.created_position = 1000 + i;
  }
  return tasks;
}

// The same steps as ReadQueries::BuildPage after the read-model query.
void BM_SerialiseTaskPage(benchmark::State& state) {
  std::vector<domain::TaskRow> rows = Tasks();
  query::PageTokenCodec codec(kPageKey);
  size_t bytes = 0;
  for (auto _ : state) {
    json::array tasks;
    tasks.reserve(rows.size());
    for (const domain::TaskRow& task : rows) tasks.push_back(domain::TaskToJson(task));
    json::object body;
    body["tasks"] = std::move(tasks);
    body["nextPageToken"] = codec.Encode(kUser, query::PageCursor{rows.back().created_position, 1});
    std::string text = json::serialize(body);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["body_bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(state.iterations());
}

void BM_EncodePageToken(benchmark::State& state) {
  query::PageTokenCodec codec(kPageKey);
  for (auto _ : state) benchmark::DoNotOptimize(codec.Encode(kUser, query::PageCursor{123456, 2}));
  state.SetItemsProcessed(state.iterations());
}

void BM_DecodePageToken(benchmark::State& state) {
  query::PageTokenCodec codec(kPageKey);
  std::string token = codec.Encode(kUser, query::PageCursor{123456, 2});
  for (auto _ : state) {
    auto cursor = codec.Decode(kUser, token);
    if (!cursor) {
      state.SkipWithError("token rejected");
      break;
    }
    benchmark::DoNotOptimize(cursor);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_ParseCommandBatch)->Arg(1)->Arg(8)->Arg(100);
BENCHMARK(BM_SerialiseTaskPage);
BENCHMARK(BM_EncodePageToken);
BENCHMARK(BM_DecodePageToken);

}  // namespace

BENCHMARK_MAIN();
