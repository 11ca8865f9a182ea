#include "postgres/read_models.h"

#include <algorithm>
#include <map>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "postgres/text_array.h"

namespace prism::postgres {

namespace {

constexpr std::string_view kTaskColumns =
    "id, user_id, title, notes, category, ord, done, version, created_position";

std::string TaskQuery(std::string_view where_and_order) {
  return "SELECT " + std::string(kTaskColumns) + " FROM tasks " + std::string(where_and_order);
}

std::vector<domain::TaskRow> ReadTaskRows(const Result& rows) {
  std::vector<domain::TaskRow> tasks;
  for (int row = 0; row < rows.Rows(); ++row) {
    domain::TaskRow task;
    task.id = rows.Text(row, 0);
    task.user_id = rows.Text(row, 1);
    task.title = rows.Text(row, 2);
    task.notes = rows.Text(row, 3);
    task.category = rows.Text(row, 4);
    task.order = rows.Int(row, 5);
    task.done = rows.Bool(row, 6);
    task.version = rows.Int(row, 7);
    task.created_position = rows.Int(row, 8);
    tasks.push_back(std::move(task));
  }
  return tasks;
}

void UpsertTask(Connection& connection, const domain::TaskRow& task) {
  connection.Exec(
      "INSERT INTO tasks (id, user_id, title, notes, category, ord, done, version, "
      "created_position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
      "ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, title = excluded.title, "
      "notes = excluded.notes, category = excluded.category, ord = excluded.ord, "
      "done = excluded.done, version = excluded.version, "
      "created_position = excluded.created_position",
      Params(task.id, task.user_id, task.title, task.notes, task.category, task.order, task.done,
             task.version, task.created_position));
}

// Upserts many tasks with one statement: the rows travel as one JSON array that
// jsonb_to_recordset turns back into rows. One row per id, the last given, because ON CONFLICT DO
// UPDATE may not touch a row twice in one statement.
void UpsertTasks(Connection& connection, const std::vector<domain::TaskRow>& tasks) {
  if (tasks.size() == 1) {
    UpsertTask(connection, tasks.front());
    return;
  }
  std::map<std::string_view, const domain::TaskRow*> last_of_id;
  for (const domain::TaskRow& task : tasks) last_of_id[task.id] = &task;
  boost::json::array rows;
  rows.reserve(last_of_id.size());
  for (const auto& [id, task] : last_of_id) {
    rows.push_back(boost::json::object{{"id", task->id},
                                       {"user_id", task->user_id},
                                       {"title", task->title},
                                       {"notes", task->notes},
                                       {"category", task->category},
                                       {"ord", task->order},
                                       {"done", task->done},
                                       {"version", task->version},
                                       {"created_position", task->created_position}});
  }
  connection.Exec(
      "INSERT INTO tasks (id, user_id, title, notes, category, ord, done, version, "
      "created_position) SELECT id, user_id, title, notes, category, ord, done, version, "
      "created_position FROM jsonb_to_recordset($1::jsonb) AS t(id TEXT, user_id TEXT, "
      "title TEXT, notes TEXT, category TEXT, ord BIGINT, done BOOLEAN, version BIGINT, "
      "created_position BIGINT) "
      "ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, title = excluded.title, "
      "notes = excluded.notes, category = excluded.category, ord = excluded.ord, "
      "done = excluded.done, version = excluded.version, "
      "created_position = excluded.created_position",
      Params(boost::json::serialize(rows)));
}

void UpsertSettings(Connection& connection, const domain::SettingsRow& settings) {
  connection.Exec(
      "INSERT INTO settings (user_id, tasks_per_category, show_done_tasks, version) "
      "VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (user_id) DO UPDATE SET tasks_per_category = excluded.tasks_per_category, "
      "show_done_tasks = excluded.show_done_tasks, version = excluded.version",
      Params(settings.user_id, settings.tasks_per_category, settings.show_done_tasks,
             settings.version));
}

void UpsertUser(Connection& connection, const domain::UserRow& user) {
  connection.Exec(
      "INSERT INTO users (user_id, name, email, signed_in, version) VALUES ($1, $2, $3, $4, $5) "
      "ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, email = excluded.email, "
      "signed_in = excluded.signed_in, version = excluded.version",
      Params(user.user_id, user.name, user.email, user.signed_in, user.version));
}

}  // namespace

PostgresReadModels::PostgresReadModels(std::shared_ptr<ConnectionPool> pool)
    : pool_(std::move(pool)) {}

void PostgresReadModels::Write(const Changes& changes) {
  pool_->Transaction([&](Connection& connection) {
    if (!changes.tasks.empty()) UpsertTasks(connection, changes.tasks);
    for (const domain::SettingsRow& settings : changes.settings) {
      UpsertSettings(connection, settings);
    }
    for (const domain::UserRow& user : changes.users) UpsertUser(connection, user);
    if (changes.checkpoint) {
      connection.Exec(
          "INSERT INTO projector_checkpoint (singleton, position) VALUES (1, $1) "
          "ON CONFLICT (singleton) DO UPDATE SET position = excluded.position",
          Params(*changes.checkpoint));
    }
  });
}

std::optional<domain::TaskRow> PostgresReadModels::FindTask(std::string_view task_id) {
  static const std::string sql = TaskQuery("WHERE id = $1");
  std::optional<domain::TaskRow> task;
  pool_->Run([&](Connection& connection) {
    std::vector<domain::TaskRow> rows = ReadTaskRows(connection.Exec(sql, Params(task_id)));
    if (!rows.empty()) task = std::move(rows.front());
  });
  return task;
}

std::vector<domain::TaskRow> PostgresReadModels::FindTasks(
    const std::vector<std::string>& task_ids) {
  if (task_ids.empty()) return {};
  static const std::string sql = TaskQuery("WHERE id = ANY($1::text[])");
  const std::string ids =
      TextArray(task_ids, [](const std::string& id) -> const std::string& { return id; });
  std::vector<domain::TaskRow> tasks;
  pool_->Run(
      [&](Connection& connection) { tasks = ReadTaskRows(connection.Exec(sql, Params(ids))); });
  return tasks;
}

std::optional<domain::SettingsRow> PostgresReadModels::FindSettings(std::string_view user_id) {
  std::optional<domain::SettingsRow> settings;
  pool_->Run([&](Connection& connection) {
    Result rows = connection.Exec(
        "SELECT tasks_per_category, show_done_tasks, version FROM settings WHERE user_id = $1",
        Params(user_id));
    if (rows.Empty()) return;
    settings.emplace();
    settings->user_id = std::string(user_id);
    settings->tasks_per_category = rows.Int(0, 0);
    settings->show_done_tasks = rows.Bool(0, 1);
    settings->version = rows.Int(0, 2);
  });
  return settings;
}

std::optional<domain::UserRow> PostgresReadModels::FindUser(std::string_view user_id) {
  std::optional<domain::UserRow> user;
  pool_->Run([&](Connection& connection) {
    Result rows = connection.Exec(
        "SELECT name, email, signed_in, version FROM users WHERE user_id = $1", Params(user_id));
    if (rows.Empty()) return;
    user.emplace();
    user->user_id = std::string(user_id);
    user->name = rows.Text(0, 0);
    user->email = rows.Text(0, 1);
    user->signed_in = rows.Bool(0, 2);
    user->version = rows.Int(0, 3);
  });
  return user;
}

storage::TaskPage PostgresReadModels::ListTasks(std::string_view user_id, int64_t after,
                                                int limit) {
  static const std::string sql =
      TaskQuery("WHERE user_id = $1 AND created_position > $2 ORDER BY created_position LIMIT $3");
  const int64_t page_size = std::max(limit, 1);
  storage::TaskPage page;
  pool_->Run([&](Connection& connection) {
    page.tasks = ReadTaskRows(connection.Exec(sql, Params(user_id, after, page_size + 1)));
  });
  if (static_cast<int64_t>(page.tasks.size()) > page_size) {
    page.tasks.pop_back();
    page.next_after = page.tasks.back().created_position;
  }
  return page;
}

std::vector<domain::TaskRow> PostgresReadModels::AllTasks(std::string_view user_id) {
  static const std::string sql = TaskQuery("WHERE user_id = $1 ORDER BY created_position");
  std::vector<domain::TaskRow> tasks;
  pool_->Run(
      [&](Connection& connection) { tasks = ReadTaskRows(connection.Exec(sql, Params(user_id))); });
  return tasks;
}

int64_t PostgresReadModels::CountOpenTasks(std::string_view user_id, std::string_view category) {
  // The `NOT done` term matches the partial index's WHERE clause.
  int64_t count = 0;
  pool_->Run([&](Connection& connection) {
    Result rows = connection.Exec(
        "SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND category = $2 AND NOT done",
        Params(user_id, category));
    count = rows.Int(0, 0);
  });
  return count;
}

int64_t PostgresReadModels::Checkpoint() {
  int64_t position = 0;
  pool_->Run([&](Connection& connection) {
    Result rows = connection.Exec("SELECT position FROM projector_checkpoint WHERE singleton = 1");
    if (!rows.Empty()) position = rows.Int(0, 0);
  });
  return position;
}

void PostgresReadModels::Reset() {
  pool_->Run([&](Connection& connection) {
    connection.ExecScript("TRUNCATE tasks, users, settings, projector_checkpoint");
  });
}

}  // namespace prism::postgres
