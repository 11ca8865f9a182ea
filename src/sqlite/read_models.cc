#include "sqlite/read_models.h"

#include <algorithm>
#include <utility>

#include <boost/json.hpp>

namespace prism::sqlite {

namespace {

constexpr std::string_view kTaskColumns =
    "id, user_id, title, notes, category, ord, done, version, created_position";

std::string TaskQuery(std::string_view where_and_order) {
  return "SELECT " + std::string(kTaskColumns) + " FROM tasks " + std::string(where_and_order);
}

domain::TaskRow ReadTaskRow(const Statement& row) {
  domain::TaskRow task;
  task.id = row.Text(0);
  task.user_id = row.Text(1);
  task.title = row.Text(2);
  task.notes = row.Text(3);
  task.category = row.Text(4);
  task.order = row.Int(5);
  task.done = row.Int(6) != 0;
  task.version = row.Int(7);
  task.created_position = row.Int(8);
  return task;
}

void UpsertTask(Connection& connection, const domain::TaskRow& task) {
  connection
      .Prepare(
          "INSERT INTO tasks (id, user_id, title, notes, category, ord, done, version, "
          "created_position) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
          "ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, title = excluded.title, "
          "notes = excluded.notes, category = excluded.category, ord = excluded.ord, "
          "done = excluded.done, version = excluded.version, "
          "created_position = excluded.created_position")
      .BindAll(task.id, task.user_id, task.title, task.notes, task.category, task.order,
               int64_t{task.done}, task.version, task.created_position)
      .Run();
}

void UpsertSettings(Connection& connection, const domain::SettingsRow& settings) {
  connection
      .Prepare(
          "INSERT INTO settings (user_id, tasks_per_category, show_done_tasks, version) "
          "VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT (user_id) DO UPDATE SET tasks_per_category = excluded.tasks_per_category, "
          "show_done_tasks = excluded.show_done_tasks, version = excluded.version")
      .BindAll(settings.user_id, settings.tasks_per_category, int64_t{settings.show_done_tasks},
               settings.version)
      .Run();
}

void UpsertUser(Connection& connection, const domain::UserRow& user) {
  connection
      .Prepare(
          "INSERT INTO users (user_id, name, email, signed_in, version) "
          "VALUES (?1, ?2, ?3, ?4, ?5) "
          "ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, email = excluded.email, "
          "signed_in = excluded.signed_in, version = excluded.version")
      .BindAll(user.user_id, user.name, user.email, int64_t{user.signed_in}, user.version)
      .Run();
}

}  // namespace

SqliteReadModels::SqliteReadModels(std::shared_ptr<Database> database)
    : database_(std::move(database)) {}

void SqliteReadModels::Write(const Changes& changes) {
  database_->Write(Durability::kNormal, [&](Connection& connection) {
    for (const domain::TaskRow& task : changes.tasks) UpsertTask(connection, task);
    for (const domain::SettingsRow& settings : changes.settings) {
      UpsertSettings(connection, settings);
    }
    for (const domain::UserRow& user : changes.users) UpsertUser(connection, user);
    if (changes.checkpoint) {
      connection
          .Prepare(
              "INSERT INTO projector_checkpoint (singleton, position) VALUES (1, ?1) "
              "ON CONFLICT (singleton) DO UPDATE SET position = excluded.position")
          .Bind(1, *changes.checkpoint)
          .Run();
    }
  });
}

std::optional<domain::TaskRow> SqliteReadModels::FindTask(std::string_view task_id) {
  static const std::string sql = TaskQuery("WHERE id = ?1");
  std::optional<domain::TaskRow> task;
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(sql);
    if (query.Bind(1, task_id).Step()) task = ReadTaskRow(query);
  });
  return task;
}

std::vector<domain::TaskRow> SqliteReadModels::FindTasks(const std::vector<std::string>& task_ids) {
  // The ids travel as one JSON array parameter that json_each turns into rows, so the statement
  // text does not depend on the number of ids.
  static const std::string sql = TaskQuery("WHERE id IN (SELECT value FROM json_each(?1))");
  std::vector<domain::TaskRow> tasks;
  if (task_ids.empty()) return tasks;

  boost::json::array ids;
  ids.reserve(task_ids.size());
  for (const std::string& id : task_ids) ids.emplace_back(id);
  std::string ids_json = boost::json::serialize(ids);

  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(sql);
    query.Bind(1, ids_json);
    while (query.Step()) tasks.push_back(ReadTaskRow(query));
  });
  return tasks;
}

std::optional<domain::SettingsRow> SqliteReadModels::FindSettings(std::string_view user_id) {
  std::optional<domain::SettingsRow> settings;
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(
        "SELECT tasks_per_category, show_done_tasks, version FROM settings WHERE user_id = ?1");
    if (!query.Bind(1, user_id).Step()) return;
    settings.emplace();
    settings->user_id = std::string(user_id);
    settings->tasks_per_category = query.Int(0);
    settings->show_done_tasks = query.Int(1) != 0;
    settings->version = query.Int(2);
  });
  return settings;
}

std::optional<domain::UserRow> SqliteReadModels::FindUser(std::string_view user_id) {
  std::optional<domain::UserRow> user;
  database_->Read([&](Connection& connection) {
    Statement query =
        connection.Prepare("SELECT name, email, signed_in, version FROM users WHERE user_id = ?1");
    if (!query.Bind(1, user_id).Step()) return;
    user.emplace();
    user->user_id = std::string(user_id);
    user->name = query.Text(0);
    user->email = query.Text(1);
    user->signed_in = query.Int(2) != 0;
    user->version = query.Int(3);
  });
  return user;
}

storage::TaskPage SqliteReadModels::ListTasks(std::string_view user_id, int64_t after, int limit) {
  static const std::string sql =
      TaskQuery("WHERE user_id = ?1 AND created_position > ?2 ORDER BY created_position LIMIT ?3");
  const int64_t page_size = std::max(limit, 1);
  storage::TaskPage page;
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(sql);
    query.BindAll(user_id, after, page_size + 1);
    while (query.Step()) page.tasks.push_back(ReadTaskRow(query));
  });
  if (static_cast<int64_t>(page.tasks.size()) > page_size) {
    page.tasks.pop_back();
    page.next_after = page.tasks.back().created_position;
  }
  return page;
}

std::vector<domain::TaskRow> SqliteReadModels::AllTasks(std::string_view user_id) {
  static const std::string sql = TaskQuery("WHERE user_id = ?1 ORDER BY created_position");
  std::vector<domain::TaskRow> tasks;
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(sql);
    query.Bind(1, user_id);
    while (query.Step()) tasks.push_back(ReadTaskRow(query));
  });
  return tasks;
}

int64_t SqliteReadModels::CountOpenTasks(std::string_view user_id, std::string_view category) {
  // The `done = 0` term matches the partial index's WHERE clause, so SQLite counts index entries.
  int64_t count = 0;
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(
        "SELECT COUNT(*) FROM tasks WHERE user_id = ?1 AND category = ?2 AND done = 0");
    if (query.BindAll(user_id, category).Step()) count = query.Int(0);
  });
  return count;
}

int64_t SqliteReadModels::Checkpoint() {
  int64_t position = 0;
  database_->Read([&](Connection& connection) {
    position = connection.QueryInt("SELECT position FROM projector_checkpoint WHERE singleton = 1");
  });
  return position;
}

void SqliteReadModels::Reset() {
  database_->Write(Durability::kFull, [&](Connection& connection) {
    connection.Execute(
        "DELETE FROM tasks; DELETE FROM users; DELETE FROM settings; "
        "DELETE FROM projector_checkpoint;",
        "reset read models");
  });
}

}  // namespace prism::sqlite
