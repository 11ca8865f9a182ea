// The embedded read models: tasks, users and settings tables in the SQLite file.
#pragma once

#include <memory>

#include "sqlite/database.h"
#include "storage/interfaces.h"

namespace prism::sqlite {

// storage::ReadModels on the `tasks`, `users`, `settings` and `projector_checkpoint` tables.
// Tasks are listed by created_position, the position of their task-created event, through the
// (user_id, created_position) index. Thread-safe.
class SqliteReadModels final : public storage::ReadModels {
 public:
  explicit SqliteReadModels(std::shared_ptr<Database> database);

  // Upserts every row and stores the checkpoint in one kNormal transaction: after power loss the
  // rows and the checkpoint are lost together, so the projector replays them from the store.
  void Write(const Changes& changes) override;

  std::optional<domain::TaskRow> FindTask(std::string_view task_id) override;
  // Reads every id with one statement, so with one read transaction: a projector batch loads its
  // rows without taking and dropping SQLite's WAL read lock once per task.
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
  std::shared_ptr<Database> database_;
};

}  // namespace prism::sqlite
