// SQLite backend behaviour across processes: what a 202 (a completed Enqueue) and a returned
// Commit guarantee when the process is killed with SIGKILL, and two storage sets on one file, as
// two processes would open it.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/config.h"
#include "sqlite/embedded_storage.h"

namespace prism::sqlite {
namespace {

using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/prism-process-XXXXXX";
    EXPECT_NE(mkdtemp(pattern.data()), nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Config ConfigFor(const std::string& dir) {
  Config config;
  config.data_dir = dir;
  return config;
}

storage::NewCommand Command(const std::string& user_id, const std::string& key) {
  return storage::NewCommand{user_id, key, 1'700'000'000'000, R"({"entityType":"task"})"};
}

storage::CommitRequest OneEventRequest(int64_t seq) {
  std::string key = "event-" + std::to_string(seq);
  domain::Event event;
  event.id = key;
  event.entity_id = "task-" + std::to_string(seq);
  event.type = "task-created";
  event.version = 1;
  event.user_id = "writer";
  event.idempotency_key = key;
  storage::CommitRequest request;
  request.user_id = "writer";
  request.user_seq = seq;
  request.idempotency_key = key;
  request.outcome = storage::CommandOutcome{storage::OutcomeStatus::kCompleted, "", 1};
  request.events.push_back(event);
  return request;
}

// The child: enqueues and commits without end, and after each completed Enqueue or Commit writes
// one line ("q <key>" or "e <seq>") to `out`, the moment a client would get its confirmation.
[[noreturn]] void RunWriterChild(const std::string& dir, int out) {
  EmbeddedStorage storage = OpenEmbeddedStorage(ConfigFor(dir));
  FILE* report = fdopen(out, "w");
  std::mutex report_mutex;
  std::atomic<int> in_flight{0};
  for (int64_t i = 1;; ++i) {
    std::string key = "cmd-" + std::to_string(i);
    ++in_flight;
    storage.commands->Enqueue({Command("alice", key)},
                              [&, key](std::optional<std::string> failure) {
                                if (!failure) {
                                  std::lock_guard lock(report_mutex);
                                  fprintf(report, "q %s\n", key.c_str());
                                  fflush(report);
                                }
                                --in_flight;
                              });
    if (i % 4 == 0) {
      storage::CommitRequest request = OneEventRequest(i / 4);
      if (storage.events->Commit(std::span(&request, 1)).at(0).status ==
          storage::CommitStatus::kCommitted) {
        std::lock_guard lock(report_mutex);
        fprintf(report, "e %lld\n", static_cast<long long>(i / 4));
        fflush(report);
      }
    }
    while (in_flight > 32) std::this_thread::sleep_for(100us);
  }
}

TEST(SqliteProcess, ConfirmedWritesSurviveKill) {
  TempDir dir;
  MigrateEmbeddedStorage(ConfigFor(dir.path()));
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);

  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    RunWriterChild(dir.path(), pipe_fds[1]);
  }
  close(pipe_fds[1]);

  // Kill the child mid-stream, after it confirmed a few hundred writes.
  FILE* reports = fdopen(pipe_fds[0], "r");
  std::set<std::string> confirmed_keys;
  std::set<int64_t> confirmed_events;
  char kind;
  char value[64];
  while (confirmed_keys.size() < 300 && fscanf(reports, " %c %63s", &kind, value) == 2) {
    if (kind == 'q') confirmed_keys.insert(value);
    if (kind == 'e') confirmed_events.insert(std::stoll(value));
  }
  kill(child, SIGKILL);
  // Lines already in the pipe were confirmed before the kill, so they count too.
  while (fscanf(reports, " %c %63s", &kind, value) == 2) {
    if (kind == 'q') confirmed_keys.insert(value);
    if (kind == 'e') confirmed_events.insert(std::stoll(value));
  }
  fclose(reports);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_GE(confirmed_keys.size(), 300u);

  EmbeddedStorage storage = OpenEmbeddedStorage(ConfigFor(dir.path()));
  std::map<std::string, int64_t> seq_by_key;
  for (;;) {
    std::vector<storage::QueuedCommand> leased = storage.commands->Lease("check", 1000, 60s, 0ms);
    if (leased.empty()) break;
    for (const auto& message : leased) seq_by_key[message.idempotency_key] = message.user_seq;
  }
  for (const std::string& key : confirmed_keys) {
    EXPECT_TRUE(seq_by_key.count(key)) << "confirmed command " << key << " was lost";
  }
  std::vector<int64_t> seqs;
  for (const auto& [key, seq] : seq_by_key) seqs.push_back(seq);
  std::sort(seqs.begin(), seqs.end());
  for (size_t i = 0; i < seqs.size(); ++i) {
    ASSERT_EQ(seqs[i], static_cast<int64_t>(i + 1)) << "sequence numbers have a gap";
  }
  const int64_t cursor = storage.events->UserCursor("writer");
  for (int64_t seq : confirmed_events) EXPECT_LE(seq, cursor) << "committed event " << seq;
  EXPECT_EQ(storage.events->ReadAll(0, 100'000).size(), static_cast<size_t>(cursor));
}

// Two storage sets on one file have separate connections and write mutexes, as two processes
// would; SQLite's file locks alone keep their writes apart.
TEST(SqliteProcess, TwoOpenSetsShareQueueAndSequence) {
  TempDir dir;
  EmbeddedStorage first = OpenEmbeddedStorage(ConfigFor(dir.path()));
  EmbeddedStorage second = OpenEmbeddedStorage(ConfigFor(dir.path()));
  constexpr int kPerSet = 300;

  // A lease blocked in one set finds the other set's command by polling the table.
  auto leased_early = std::async(std::launch::async, [&] {
    auto started = std::chrono::steady_clock::now();
    std::vector<storage::QueuedCommand> leased = second.commands->Lease("second", 1, 60s, 5s);
    return std::make_pair(leased, std::chrono::steady_clock::now() - started);
  });
  std::this_thread::sleep_for(100ms);
  std::promise<std::optional<std::string>> early_done;
  first.commands->Enqueue({Command("alice", "early")}, [&](std::optional<std::string> failure) {
    early_done.set_value(failure);
  });
  ASSERT_EQ(early_done.get_future().get(), std::nullopt);
  auto [early, waited] = leased_early.get();
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(early[0].idempotency_key, "early");
  EXPECT_LT(waited, 2s);

  std::atomic<int> done{0};
  std::atomic<int> failures{0};
  auto enqueue_all = [&](EmbeddedStorage& set, const std::string& prefix) {
    for (int i = 0; i < kPerSet; ++i) {
      set.commands->Enqueue({Command("alice", prefix + std::to_string(i))},
                            [&](std::optional<std::string> failure) {
                              failures += failure.has_value();
                              ++done;
                            });
    }
  };
  std::thread a([&] { enqueue_all(first, "first-"); });
  std::thread b([&] { enqueue_all(second, "second-"); });
  a.join();
  b.join();
  for (auto until = std::chrono::steady_clock::now() + 20s;
       done < 2 * kPerSet && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(1ms);
  }

  ASSERT_EQ(done, 2 * kPerSet);
  EXPECT_EQ(failures, 0);
  std::vector<int64_t> seqs = {early[0].user_seq};
  for (;;) {
    std::vector<storage::QueuedCommand> leased = first.commands->Lease("first", 1000, 60s, 0ms);
    if (leased.empty()) break;
    for (const auto& message : leased) seqs.push_back(message.user_seq);
  }
  std::sort(seqs.begin(), seqs.end());
  ASSERT_EQ(seqs.size(), static_cast<size_t>(2 * kPerSet + 1));
  for (size_t i = 0; i < seqs.size(); ++i) {
    ASSERT_EQ(seqs[i], static_cast<int64_t>(i + 1)) << "sequence numbers have a gap";
  }
}

}  // namespace
}  // namespace prism::sqlite
