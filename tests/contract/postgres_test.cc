// PostgreSQL backend behaviour beyond the storage contract: reconnecting after a server restart,
// error messages without the password, two processes committing for one user, the account store
// and the shared signing-key store.
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <latch>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/config.h"
#include "contract/postgres_backend.h"
#include "postgres/connection.h"
#include "postgres/postgres_storage.h"

namespace prism::postgres {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string ServerScript() { return std::string(PRISM_SOURCE_DIR) + "/tests/servers/postgres.sh"; }

int RunScript(const std::string& action, const std::string& dir) {
  std::string command = ServerScript() + " " + action + " '" + dir + "' >/dev/null 2>&1";
  return std::system(command.c_str());
}

domain::Event TaskCreated(const std::string& task_id, const std::string& user_id,
                          const std::string& key) {
  domain::Event event;
  event.id = task_id + "-v1";
  event.entity_id = task_id;
  event.entity_type = domain::EntityType::kTask;
  event.type = "task-created";
  event.data["title"] = task_id;
  event.version = 1;
  event.user_id = user_id;
  event.idempotency_key = key;
  return event;
}

storage::CommitRequest Request(const std::string& user_id, int64_t seq,
                               std::vector<domain::Event> events) {
  storage::CommitRequest request;
  request.user_id = user_id;
  request.user_seq = seq;
  request.idempotency_key = "k" + std::to_string(seq);
  request.outcome = storage::CommandOutcome{storage::OutcomeStatus::kCompleted, "", 1};
  request.events = std::move(events);
  return request;
}

storage::CommitStatus CommitOne(storage::EventStore& store, storage::CommitRequest request) {
  return store.Commit(std::span(&request, 1)).at(0).status;
}

// A database of its own on the shared test server, dropped at the end.
class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = contract::TestServer();
    std::random_device random;
    database_ = "prism_pgtest_" + std::to_string(getpid()) + "_" + std::to_string(random());
    Admin().Exec("SELECT 1");
    Admin().ExecScript("CREATE DATABASE " + database_);
    config_.database_url = server_.DatabaseUrl(database_);
  }

  void TearDown() override {
    Admin().ExecScript("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
  }

  Connection& Admin() {
    if (!admin_) admin_ = ConnectionPool(server_.admin_url).Connect();
    return *admin_;
  }

  contract::PostgresTestServer server_;
  std::string database_;
  Config config_;
  std::unique_ptr<Connection> admin_;
};

TEST_F(PostgresTest, SecretIsCreatedOnceAndShared) {
  DistributedPostgres first = OpenPostgresStorage(config_);
  DistributedPostgres second = OpenPostgresStorage(config_);
  constexpr int kThreads = 6;
  std::vector<std::string> secrets(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      secrets[i] = (i % 2 ? first : second).secrets->LoadOrCreate("jwt-signing");
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(secrets[0].size(), 32u);
  for (const std::string& secret : secrets) EXPECT_EQ(secret, secrets[0]);
  EXPECT_NE(first.secrets->LoadOrCreate("other"), secrets[0]);
  EXPECT_EQ(first.secrets->LoadOrCreate("jwt-signing"), secrets[0]);
}

TEST_F(PostgresTest, AccountsAndRefreshTokens) {
  DistributedPostgres storage = OpenPostgresStorage(config_);
  storage::AccountStore& accounts = *storage.accounts;

  EXPECT_TRUE(accounts.CreateAccount({"u1", "Alice", "hash", "Alice A", "a@example.com", 5}));
  EXPECT_FALSE(accounts.CreateAccount({"u2", "ALICE", "hash2", "Other", "o@example.com", 6}));
  std::optional<storage::Account> found = accounts.FindAccount("aLiCe");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->user_id, "u1");
  EXPECT_EQ(found->username, "Alice");
  EXPECT_EQ(found->created_at_ms, 5);
  EXPECT_FALSE(accounts.FindAccount("bob").has_value());

  accounts.StoreRefreshToken({"h1", "u1", "f1", 99, false, false});
  std::optional<storage::RefreshToken> first_use = accounts.UseRefreshToken("h1");
  std::optional<storage::RefreshToken> second_use = accounts.UseRefreshToken("h1");
  accounts.RevokeFamily("f1");
  std::optional<storage::RefreshToken> after_revoke = accounts.UseRefreshToken("h1");

  ASSERT_TRUE(first_use.has_value());
  EXPECT_FALSE(first_use->used);
  EXPECT_EQ(first_use->expires_at_ms, 99);
  ASSERT_TRUE(second_use.has_value());
  EXPECT_TRUE(second_use->used);
  ASSERT_TRUE(after_revoke.has_value());
  EXPECT_TRUE(after_revoke->revoked);
  EXPECT_FALSE(accounts.UseRefreshToken("unknown").has_value());
}

TEST_F(PostgresTest, InvalidUrlIsRejectedWithoutPassword) {
  Config config;
  config.database_url = "mysql://user:hunter2-secret@127.0.0.1/db";
  try {
    OpenPostgresStorage(config);
    FAIL() << "a mysql:// URL was accepted";
  } catch (const storage::StorageUnavailable& error) {
    EXPECT_NE(std::string(error.what()).find("postgres://"), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).find("hunter2-secret"), std::string::npos);
  }
}

// Two processes, each with its own pool, commit the same user's commands 1..N, each reading the
// cursor and committing cursor + 1. Every sequence number must commit exactly once.
TEST_F(PostgresTest, TwoProcessesRaceOnOneUsersCommits) {
  OpenPostgresStorage(config_);  // migrates before the children start
  constexpr int64_t kCommands = 60;
  std::vector<pid_t> children;
  for (int child = 0; child < 2; ++child) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int status = 0;
      try {
        DistributedPostgres storage = OpenPostgresStorage(config_);
        for (;;) {
          const int64_t next = storage.events->UserCursor("alice") + 1;
          if (next > kCommands) break;
          std::string task = "t" + std::to_string(next);
          CommitOne(
              *storage.events,
              Request("alice", next, {TaskCreated(task, "alice", "k" + std::to_string(next))}));
        }
      } catch (const std::exception& error) {
        fprintf(stderr, "child failed: %s\n", error.what());
        status = 1;
      }
      _exit(status);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }

  DistributedPostgres storage = OpenPostgresStorage(config_);
  std::vector<domain::Event> events = storage.events->ReadAll(0, 1000);
  EXPECT_EQ(storage.events->UserCursor("alice"), kCommands);
  ASSERT_EQ(events.size(), static_cast<size_t>(kCommands));
  std::set<std::string> streams;
  for (size_t i = 0; i < events.size(); ++i) {
    streams.insert(events[i].entity_id);
    EXPECT_EQ(events[i].entity_id, "t" + std::to_string(i + 1));
  }
  EXPECT_EQ(streams.size(), static_cast<size_t>(kCommands));
}

// Measures committed requests per second from several threads, for three batch sizes. Run it by
// hand with --gtest_also_run_disabled_tests. The test server runs with fsync=off, so the figure is
// an upper bound for a durable server.
TEST_F(PostgresTest, DISABLED_CommitThroughput) {
  DistributedPostgres storage = OpenPostgresStorage(config_);
  for (size_t batch_size : {1, 16, 64}) {
    constexpr int kThreads = 4;
    std::atomic<int64_t> committed{0};
    std::atomic<int64_t> transactions{0};
    const auto until = Clock::now() + 3s;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int64_t round = 0; Clock::now() < until; ++round) {
          std::vector<storage::CommitRequest> requests;
          for (size_t i = 0; i < batch_size; ++i) {
            std::string user = "b" + std::to_string(batch_size) + "-t" + std::to_string(t) + "-r" +
                               std::to_string(round) + "-" + std::to_string(i);
            requests.push_back(Request(user, 1, {TaskCreated(user, user, "k1")}));
          }
          committed += static_cast<int64_t>(storage.events->Commit(requests).size());
          ++transactions;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    printf("batch %zu: %.0f requests/s, %.0f transactions/s\n", batch_size, committed / 3.0,
           transactions / 3.0);
  }
}

// Measures enqueues per second of single-command batches from several threads, as the API sends
// them. Run it by hand with --gtest_also_run_disabled_tests (the test server runs with fsync=off).
TEST_F(PostgresTest, DISABLED_EnqueueThroughput) {
  config_.admission_queue_limit = 1'000'000;
  DistributedPostgres storage = OpenPostgresStorage(config_);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::atomic<int> done{0};
  std::atomic<int> failures{0};
  const auto started = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string user = "u" + std::to_string(i % 100);
        std::string key = std::to_string(t) + "-" + std::to_string(i);
        storage.commands->Enqueue({{user, key, 1, "{}"}}, [&](std::optional<std::string> failure) {
          failures += failure.has_value();
          ++done;
        });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  while (done < kThreads * kPerThread) std::this_thread::sleep_for(1ms);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  EXPECT_EQ(failures, 0);
  printf("%d single-command enqueues in %.2f s: %.0f/s\n", kThreads * kPerThread, seconds,
         kThreads * kPerThread / seconds);
}

// A private server, because restarting the shared one would break tests running beside this one.
class PrivateServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/prism-pg-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    // Under root the server runs as `postgres`, which must be able to enter the directory.
    std::filesystem::permissions(pattern, std::filesystem::perms::owner_all |
                                              std::filesystem::perms::group_exec |
                                              std::filesystem::perms::others_exec);
    dir_ = std::string(pattern) + "/server";
    ASSERT_EQ(RunScript("start", dir_), 0) << "cannot start a server in " << dir_;
    std::ifstream file(dir_ + "/postgres.url");
    std::string url;
    std::getline(file, url);
    // Trust authentication ignores the password, which lets the test put one in the URL.
    url_ = url;
    url_.replace(url_.find("postgres@"), 9, "postgres:Pw-" + std::string(kPassword) + "@");
  }

  void TearDown() override {
    RunScript("stop", dir_);
    std::filesystem::remove_all(std::filesystem::path(dir_).parent_path());
  }

  static constexpr const char* kPassword = "do-not-log-7f3a";
  std::string dir_;
  std::string url_;
};

TEST_F(PrivateServerTest, ReconnectsAfterServerRestart) {
  Config config;
  config.database_url = url_;
  DistributedPostgres storage = OpenPostgresStorage(config);
  ASSERT_EQ(CommitOne(*storage.events, Request("alice", 1, {TaskCreated("t1", "alice", "k1")})),
            storage::CommitStatus::kCommitted);
  // Concurrent reads leave several connections idle in the pool, all of which the restart kills.
  std::vector<std::thread> readers;
  for (int i = 0; i < 6; ++i) {
    readers.emplace_back([&] {
      for (int read = 0; read < 20; ++read) storage.events->ReadAll(0, 10);
    });
  }
  for (std::thread& reader : readers) reader.join();

  ASSERT_EQ(RunScript("restart", dir_), 0);

  std::optional<storage::CommitStatus> status;
  std::vector<std::string> errors;
  for (auto until = Clock::now() + 15s; !status && Clock::now() < until;) {
    try {
      status = CommitOne(*storage.events, Request("alice", 2, {TaskCreated("t2", "alice", "k2")}));
    } catch (const storage::StorageUnavailable& error) {
      errors.push_back(error.what());
      std::this_thread::sleep_for(100ms);
    }
  }
  ASSERT_TRUE(status.has_value()) << (errors.empty() ? "" : errors.back());
  EXPECT_EQ(*status, storage::CommitStatus::kCommitted);
  EXPECT_TRUE(errors.empty()) << "idle connections found dead should be replaced at once: "
                              << errors.front();
  EXPECT_EQ(storage.events->ReadAll(0, 10).size(), 2u);
  EXPECT_EQ(storage.events->UserCursor("alice"), 2);
}

TEST_F(PrivateServerTest, ServerDownFailsFastWithoutPassword) {
  Config config;
  config.database_url = url_;
  DistributedPostgres storage = OpenPostgresStorage(config);
  ASSERT_EQ(RunScript("stop", dir_), 0);

  for (int attempt = 0; attempt < 5; ++attempt) {
    const auto started = Clock::now();
    try {
      storage.events->HeadPosition();
      FAIL() << "a read succeeded with the server stopped";
    } catch (const storage::StorageUnavailable& error) {
      const std::string message = error.what();
      EXPECT_EQ(message.find(kPassword), std::string::npos) << message;
      EXPECT_NE(message.find("127.0.0.1"), std::string::npos) << message;
    }
    EXPECT_LT(Clock::now() - started, 6s);
  }
}

}  // namespace
}  // namespace prism::postgres
