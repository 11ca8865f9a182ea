#include "query/read_queries.h"

#include <charconv>
#include <vector>

#include <boost/json.hpp>

#include "domain/read_model.h"

namespace prism::query {
namespace json = boost::json;

namespace {

// The cached value of `<userId>:ts` holds the first pages one after another, each prefixed by
// its length in decimal and a newline.
std::string EncodePages(const std::vector<std::string>& pages) {
  std::string out;
  for (const std::string& page : pages) {
    out += std::to_string(page.size());
    out += '\n';
    out += page;
  }
  return out;
}

std::optional<std::string> DecodePage(std::string_view value, uint32_t index) {
  for (uint32_t i = 0;; ++i) {
    size_t newline = value.find('\n');
    if (newline == std::string_view::npos) return std::nullopt;
    size_t length = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + newline, length);
    if (error != std::errc() || end != value.data() + newline) return std::nullopt;
    value.remove_prefix(newline + 1);
    if (length > value.size()) return std::nullopt;
    if (i == index) return std::string(value.substr(0, length));
    value.remove_prefix(length);
  }
}

}  // namespace

ReadQueries::ReadQueries(std::shared_ptr<storage::ReadModels> read_models,
                         std::shared_ptr<storage::Cache> cache, PageTokenCodec codec,
                         ReadOptions options)
    : read_models_(std::move(read_models)),
      cache_(std::move(cache)),
      codec_(std::move(codec)),
      options_(options) {}

std::string ReadQueries::BuildPage(std::string_view user_id, const PageCursor& cursor,
                                   int page_size, PageCursor* next) {
  storage::TaskPage page = read_models_->ListTasks(user_id, cursor.after_position, page_size);

  json::array tasks;
  tasks.reserve(page.tasks.size());
  for (const domain::TaskRow& task : page.tasks) tasks.push_back(domain::TaskToJson(task));
  json::object body;
  body["tasks"] = std::move(tasks);
  if (page.next_after) {
    // Only a walk at the default page size keeps counting pages; any other walk can never be
    // served from the cached pages, whose boundaries are those of the default size.
    bool default_walk = page_size == options_.page_size && cursor.page_index != kUncachedPage;
    PageCursor following{*page.next_after, default_walk ? cursor.page_index + 1 : kUncachedPage};
    body["nextPageToken"] = codec_.Encode(user_id, following);
    if (next) *next = following;
  } else if (next) {
    next->after_position = -1;
  }
  return json::serialize(body);
}

std::string ReadQueries::FillTaskPages(std::string_view user_id, int64_t stamp, uint32_t wanted,
                                       storage::CacheWrite* written,
                                       std::optional<int64_t>* cached_until) {
  std::vector<std::string> pages;
  PageCursor cursor;
  std::string wanted_page;
  std::optional<int64_t> last_cached_position;
  for (int i = 0; i < options_.cached_pages; ++i) {
    PageCursor next;
    pages.push_back(BuildPage(user_id, cursor, options_.page_size, &next));
    if (static_cast<uint32_t>(i) == wanted) wanted_page = pages.back();
    if (next.after_position < 0) break;
    if (i + 1 == options_.cached_pages) last_cached_position = next.after_position;
    cursor = next;
  }
  if (cached_until) *cached_until = last_cached_position;
  storage::CacheWrite result =
      cache_->PutIfNewer(TasksCacheKey(user_id), EncodePages(pages), stamp, options_.tasks_ttl);
  if (written) *written = result;
  return wanted_page;
}

std::string ReadQueries::TasksPage(std::string_view user_id,
                                   const std::optional<PageCursor>& cursor, int page_size) {
  PageCursor start = cursor.value_or(PageCursor{});
  bool cacheable = page_size == options_.page_size &&
                   start.page_index < static_cast<uint32_t>(options_.cached_pages);
  if (!cacheable) return BuildPage(user_id, start, page_size, nullptr);

  if (auto value = cache_->Get(TasksCacheKey(user_id))) {
    if (auto page = DecodePage(*value, start.page_index)) return *page;
    // A page past the end of the cached list: the token came from a longer list than the cached
    // one, which cannot happen because tasks are never removed. Serve it from the database.
    return BuildPage(user_id, start, page_size, nullptr);
  }

  // Read the checkpoint before the data, so a concurrent projector refresh always wins.
  int64_t stamp = read_models_->Checkpoint();
  std::string page = FillTaskPages(user_id, stamp, start.page_index);
  if (!page.empty()) return page;
  return BuildPage(user_id, start, page_size, nullptr);
}

std::string ReadQueries::BuildSettings(std::string_view user_id) {
  domain::SettingsRow settings;
  if (auto row = read_models_->FindSettings(user_id)) settings = *row;
  return json::serialize(domain::SettingsToJson(settings));
}

std::string ReadQueries::Settings(std::string_view user_id) {
  std::string key = SettingsCacheKey(user_id);
  if (auto value = cache_->Get(key)) return *value;

  int64_t stamp = read_models_->Checkpoint();
  std::string body = BuildSettings(user_id);
  cache_->PutIfNewer(key, body, stamp, options_.settings_ttl);
  return body;
}

bool ReadQueries::Refresh(std::string_view user_id, int64_t stamp, RefreshScope scope,
                          std::optional<int64_t>* cached_until) {
  if (cached_until) cached_until->reset();
  storage::CacheWrite tasks = storage::CacheWrite::kKept;
  if (scope.tasks && options_.cached_pages > 0) {
    FillTaskPages(user_id, stamp, 0, &tasks, cached_until);
  }
  storage::CacheWrite settings = storage::CacheWrite::kKept;
  if (scope.settings) {
    settings = cache_->PutIfNewer(SettingsCacheKey(user_id), BuildSettings(user_id), stamp,
                                  options_.settings_ttl);
  }
  return tasks != storage::CacheWrite::kFailed && settings != storage::CacheWrite::kFailed;
}

bool ReadQueries::InvalidateCacheBefore(int64_t stamp) { return cache_->InvalidateBefore(stamp); }

}  // namespace prism::query
