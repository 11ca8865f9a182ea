// The PostgreSQL read models: tasks, users and settings tables.
#pragma once

#include <memory>

#include "postgres/connection.h"
#include "storage/interfaces.h"

namespace prism::postgres {

// storage::ReadModels on the `tasks`, `users`, `settings` and `projector_checkpoint` tables.
// Tasks are listed by created_position through the (user_id, created_position) index.
// Thread-safe.
class PostgresReadModels final : public storage::ReadModels {
 public:
  explicit PostgresReadModels(std::shared_ptr<ConnectionPool> pool);

  // Upserts every row and stores the checkpoint in one transaction.
  void Write(const Changes& changes) override;

  std::optional<domain::TaskRow> FindTask(std::string_view task_id) override;
  // One statement for all ids (id = ANY of a text[] parameter).
  std::vector<domain::TaskRow> FindTasks(const std::vector<std::string>& task_ids) override;
  std::optional<domain::SettingsRow> FindSettings(std::string_view user_id) override;
  std::optional<domain::UserRow> FindUser(std::string_view user_id) override;

  // Reads limit + 1 rows to learn whether a next page exists. A `limit` below 1 is read as 1.
  storage::TaskPage ListTasks(std::string_view user_id, int64_t after, int limit) override;
  std::vector<domain::TaskRow> AllTasks(std::string_view user_id) override;
  // Counts entries of the partial index tasks_open_by_lane.
  int64_t CountOpenTasks(std::string_view user_id, std::string_view category) override;

  int64_t Checkpoint() override;
  void Reset() override;

 private:
  std::shared_ptr<ConnectionPool> pool_;
};

}  // namespace prism::postgres
