// The Redis parts of the distributed backend under the contract suite: the embedded SQLite event
// store and read models in a temporary directory, with the Redis command queue, event queue
// (relaying from that event store), cache and live updates on the server of the CTest fixture.
// Each backend uses a fresh key prefix and deletes its keys when destroyed.
#include "contract/redis_backend.h"

#include <stdlib.h>

#include <fstream>
#include <random>
#include <stdexcept>

#include "common/config.h"
#include "contract/backend.h"
#include "redis/connection.h"
#include "redis/redis_storage.h"

namespace prism::contract {

namespace {

constexpr const char* kCommandQueue = "command-queue";
constexpr const char* kEventsQueue = "domain-events";

redis::Connection Connect(const std::string& url) {
  return redis::Connection(redis::ParseConnectionString(url), std::chrono::milliseconds(2000),
                           std::chrono::milliseconds(5000));
}

class RedisBackend final : public Backend {
 public:
  RedisBackend()
      : url_(TestRedisUrl()), prefix_(RandomKeyPrefix()), sqlite_(CreateBackend("sqlite")) {}

  ~RedisBackend() override {
    try {
      DeleteKeys(url_, prefix_);
    } catch (const std::exception&) {
      // The server is gone; its keys go with it.
    }
  }

  StorageSet Open(const OpenOptions& options) override {
    StorageSet set = sqlite_->Open(options);
    Config config;
    config.redis_connection_string = url_;
    config.command_queue = kCommandQueue;
    config.domain_events_queue = kEventsQueue;
    config.admission_queue_limit = options.admission_queue_limit;
    redis::RedisStorage redis = redis::OpenRedisStorage(config, set.events, {prefix_});
    set.commands = redis.commands;
    set.event_queue = redis.event_queue;
    set.cache = redis.cache;
    set.live = redis.live;
    return set;
  }

  void Migrate() override { sqlite_->Migrate(); }
  std::string DescribeSchema() override { return sqlite_->DescribeSchema(); }
  std::unique_ptr<LateWriter> BeginLateWrite(const domain::Event& event) override {
    return sqlite_->BeginLateWrite(event);
  }
  bool SerializesWriters() const override { return sqlite_->SerializesWriters(); }

  int64_t CountCommandDeadLetters() override {
    return StreamLength(url_, prefix_ + kCommandQueue + ":dead");
  }
  int64_t CountEventDeadLetters() override {
    return StreamLength(url_, prefix_ + kEventsQueue + ":dead");
  }

 private:
  std::string url_;
  std::string prefix_;
  std::unique_ptr<Backend> sqlite_;
};

[[maybe_unused]] const bool registered =
    RegisterBackend("redis", [] { return std::make_unique<RedisBackend>(); });

}  // namespace

std::string TestRedisUrl() {
  const char* dir = getenv("PRISM_TEST_REDIS_DIR");
#ifdef PRISM_TEST_REDIS_DEFAULT_DIR
  if (dir == nullptr || *dir == '\0') dir = PRISM_TEST_REDIS_DEFAULT_DIR;
#endif
  if (dir == nullptr || *dir == '\0') {
    throw std::runtime_error(
        "PRISM_TEST_REDIS_DIR is not set; run the tests through ctest, whose fixture starts "
        "redis-server with tests/servers/redis.sh");
  }
  std::ifstream file(std::string(dir) + "/redis.url");
  std::string url;
  if (!(file >> url)) {
    throw std::runtime_error(std::string("no redis.url in ") + dir + "; is redis-server running?");
  }
  return url;
}

std::string RandomKeyPrefix() {
  std::random_device device;
  std::uniform_int_distribution<uint64_t> digits;
  char text[32];
  snprintf(text, sizeof text, "test:%016llx:", static_cast<unsigned long long>(digits(device)));
  return text;
}

void DeleteKeys(const std::string& url, const std::string& prefix) {
  redis::Connection connection = Connect(url);
  std::string cursor = "0";
  do {
    redis::Reply reply = connection.Run({"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"});
    redis::ExpectOk(reply.get(), "SCAN");
    cursor = redis::ReplyText(reply->element[0]);
    const redisReply* keys = reply->element[1];
    if (keys->elements == 0) continue;
    std::vector<std::string> command = {"UNLINK"};
    for (size_t i = 0; i < keys->elements; ++i)
      command.push_back(redis::ReplyText(keys->element[i]));
    redis::ExpectOk(connection.Run(command).get(), "UNLINK");
  } while (cursor != "0");
}

int64_t StreamLength(const std::string& url, const std::string& key) {
  redis::Connection connection = Connect(url);
  redis::Reply reply = connection.Run({"XLEN", key});
  redis::ExpectOk(reply.get(), "XLEN");
  return redis::ReplyInteger(reply.get());
}

}  // namespace prism::contract
