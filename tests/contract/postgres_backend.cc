// The PostgreSQL backend under the contract suite. Every Backend creates a database of its own on
// the shared test server (started by tests/servers/postgres.sh; PRISM_TEST_POSTGRES_DIR names its
// directory) and drops it when destroyed.
#include "contract/postgres_backend.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

#include <boost/json/serialize.hpp>

#include "common/config.h"
#include "contract/backend.h"
#include "inprocess/live_updates.h"
#include "inprocess/memory_cache.h"
#include "postgres/event_store.h"
#include "postgres/postgres_storage.h"

namespace prism::contract {

namespace {

using postgres::Connection;
using postgres::Params;

std::unique_ptr<Connection> ConnectTo(const std::string& url) {
  PGconn* handle = PQconnectdb(url.c_str());
  if (PQstatus(handle) != CONNECTION_OK) {
    std::string error = PQerrorMessage(handle);
    PQfinish(handle);
    throw std::runtime_error("cannot connect to the test server at " + url + ": " + error);
  }
  return std::make_unique<Connection>(handle, url, "");
}

class PostgresLateWriter final : public LateWriter {
 public:
  PostgresLateWriter(const std::string& url, const domain::Event& event)
      : connection_(ConnectTo(url)) {
    connection_->ExecScript("BEGIN");
    // The same lock PostgresEventStore::Commit takes, so positions stay in commit order.
    connection_->Exec("SELECT pg_advisory_xact_lock($1)", Params(postgres::kAppendLockKey));
    connection_->Exec(
        "INSERT INTO events (id, entity_type, entity_id, version, type, data, timestamp_ms, "
        "user_id, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        Params(event.id, domain::ToString(event.entity_type), event.entity_id, event.version,
               event.type, boost::json::serialize(event.data), event.timestamp_ms, event.user_id,
               event.idempotency_key));
  }

  ~PostgresLateWriter() override {
    if (!committed_) PQclear(PQexec(connection_->handle(), "ROLLBACK"));
  }

  void Commit() override {
    connection_->ExecScript("COMMIT");
    committed_ = true;
  }

 private:
  std::unique_ptr<Connection> connection_;
  bool committed_ = false;
};

class PostgresBackend final : public Backend {
 public:
  PostgresBackend() : server_(TestServer()) {
    std::random_device random;
    name_ = "prism_test_" + std::to_string(getpid()) + "_" + std::to_string(random()) +
            std::to_string(random() % 1000);
    ConnectTo(server_.admin_url)->ExecScript("CREATE DATABASE " + name_);
    url_ = server_.DatabaseUrl(name_);
  }

  ~PostgresBackend() override {
    try {
      ConnectTo(server_.admin_url)
          ->ExecScript("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // The server may be gone; the fixture's cleanup removes every database with it.
    }
  }

  StorageSet Open(const OpenOptions& options) override {
    Config config;
    config.database_url = url_;
    config.admission_queue_limit = options.admission_queue_limit;
    postgres::DistributedPostgres storage = postgres::OpenPostgresStorage(config);
    return StorageSet{storage.commands,
                      storage.events,
                      storage.event_queue,
                      storage.read_models,
                      std::make_shared<inprocess::MemoryCache>(),
                      std::make_shared<inprocess::InProcessLiveUpdates>()};
  }

  void Migrate() override {
    Config config;
    config.database_url = url_;
    postgres::MigratePostgresStorage(config);
  }

  std::string DescribeSchema() override {
    std::unique_ptr<Connection> connection = ConnectTo(url_);
    std::string description;
    postgres::Result versions = connection->Exec(
        "SELECT string_agg(version::text, ',' ORDER BY version) "
        "FROM schema_migrations");
    description += "versions=" + versions.Text(0, 0) + "\n";
    postgres::Result columns = connection->Exec(
        "SELECT table_name, column_name, data_type, is_nullable, COALESCE(column_default, '') "
        "FROM information_schema.columns WHERE table_schema = 'public' "
        "ORDER BY table_name, ordinal_position");
    for (int row = 0; row < columns.Rows(); ++row) {
      for (int column = 0; column < 5; ++column) description += columns.Text(row, column) + " ";
      description += "\n";
    }
    postgres::Result indexes = connection->Exec(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname");
    for (int row = 0; row < indexes.Rows(); ++row) description += indexes.Text(row, 0) + "\n";
    return description;
  }

  std::unique_ptr<LateWriter> BeginLateWrite(const domain::Event& event) override {
    return std::make_unique<PostgresLateWriter>(url_, event);
  }

  bool SerializesWriters() const override { return true; }

  int64_t CountCommandDeadLetters() override {
    return ConnectTo(url_)->Exec("SELECT COUNT(*) FROM command_dead_letters").Int(0, 0);
  }
  int64_t CountEventDeadLetters() override {
    return ConnectTo(url_)->Exec("SELECT COUNT(*) FROM event_dead_letters").Int(0, 0);
  }

 private:
  PostgresTestServer server_;
  std::string name_;
  std::string url_;
};

[[maybe_unused]] const bool registered =
    RegisterBackend("postgres", [] { return std::make_unique<PostgresBackend>(); });

}  // namespace

std::string PostgresTestServer::DatabaseUrl(const std::string& database) const {
  std::string url = admin_url;
  const size_t slash = url.rfind('/');
  return url.substr(0, slash + 1) + database;
}

PostgresTestServer TestServer() {
  const char* dir = getenv("PRISM_TEST_POSTGRES_DIR");
#ifdef PRISM_TEST_POSTGRES_DEFAULT_DIR
  if (dir == nullptr || *dir == '\0') dir = PRISM_TEST_POSTGRES_DEFAULT_DIR;
#endif
  if (dir == nullptr || *dir == '\0') {
    throw std::runtime_error(
        "PRISM_TEST_POSTGRES_DIR is not set: run the tests through ctest, which starts the "
        "server, or start one with tests/servers/postgres.sh start DIR and export "
        "PRISM_TEST_POSTGRES_DIR=DIR");
  }
  std::ifstream file(std::string(dir) + "/postgres.url");
  PostgresTestServer server;
  server.dir = dir;
  if (!std::getline(file, server.admin_url) || server.admin_url.empty()) {
    throw std::runtime_error(std::string("no server URL in ") + dir +
                             "/postgres.url; is the test server running?");
  }
  return server;
}

}  // namespace prism::contract
