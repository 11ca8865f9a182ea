// The embedded SQLite backend under the contract suite, on a fresh temporary directory.
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include <boost/json/serialize.hpp>

#include "common/config.h"
#include "contract/backend.h"
#include "sqlite/database.h"
#include "sqlite/embedded_storage.h"

namespace prism::contract {

namespace {

std::string MakeTempDir() {
  const char* base = getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/prism-contract-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("cannot create a temporary directory from " + pattern);
  }
  return pattern;
}

class SqliteLateWriter final : public LateWriter {
 public:
  SqliteLateWriter(const std::string& path, const domain::Event& event)
      : connection_(path, sqlite::Durability::kFull, std::chrono::milliseconds(5000)) {
    connection_.Prepare("BEGIN IMMEDIATE").Run();
    connection_
        .Prepare(
            "INSERT INTO events (id, entity_type, entity_id, version, type, data, timestamp_ms, "
            "user_id, idempotency_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
        .BindAll(event.id, domain::ToString(event.entity_type), event.entity_id, event.version,
                 event.type, boost::json::serialize(event.data), event.timestamp_ms, event.user_id,
                 event.idempotency_key)
        .Run();
  }

  ~SqliteLateWriter() override {
    if (!committed_) sqlite3_exec(connection_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }

  void Commit() override {
    connection_.Prepare("COMMIT").Run();
    committed_ = true;
  }

 private:
  sqlite::Connection connection_;
  bool committed_ = false;
};

class SqliteBackend final : public Backend {
 public:
  SqliteBackend() : dir_(MakeTempDir()) {}

  ~SqliteBackend() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  StorageSet Open(const OpenOptions& options) override {
    Config config;
    config.data_dir = dir_;
    config.admission_queue_limit = options.admission_queue_limit;
    sqlite::EmbeddedStorage storage = sqlite::OpenEmbeddedStorage(config);
    return StorageSet{storage.commands,    storage.events, storage.event_queue,
                      storage.read_models, storage.cache,  storage.live};
  }

  void Migrate() override {
    Config config;
    config.data_dir = dir_;
    sqlite::MigrateEmbeddedStorage(config);
  }

  std::string DescribeSchema() override {
    sqlite::Connection connection(Path(), sqlite::Durability::kNormal,
                                  std::chrono::milliseconds(5000));
    std::string description =
        "user_version=" + std::to_string(connection.QueryInt("PRAGMA user_version")) + "\n";
    sqlite::Statement query =
        connection.Prepare("SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY name");
    while (query.Step()) {
      description += query.Text(0) + " " + query.Text(1) + ": " + query.Text(2) + "\n";
    }
    return description;
  }

  std::unique_ptr<LateWriter> BeginLateWrite(const domain::Event& event) override {
    return std::make_unique<SqliteLateWriter>(Path(), event);
  }

  bool SerializesWriters() const override { return true; }

  int64_t CountCommandDeadLetters() override {
    return Count("SELECT COUNT(*) FROM command_dead_letters");
  }
  int64_t CountEventDeadLetters() override {
    return Count("SELECT COUNT(*) FROM event_dead_letters");
  }

 private:
  std::string Path() const { return sqlite::Database::PathIn(dir_); }

  int64_t Count(const char* sql) {
    sqlite::Connection connection(Path(), sqlite::Durability::kNormal,
                                  std::chrono::milliseconds(5000));
    return connection.QueryInt(sql);
  }

  std::string dir_;
};

[[maybe_unused]] const bool registered =
    RegisterBackend("sqlite", [] { return std::make_unique<SqliteBackend>(); });

}  // namespace

}  // namespace prism::contract
