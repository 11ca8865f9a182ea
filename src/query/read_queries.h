// The read side shared by the API (queries, read-through) and the projector (cache refresh):
// task pages and settings, served from the cache when possible and equal to what the read
// models would return, page tokens included.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "query/page_token.h"
#include "storage/interfaces.h"

namespace prism::query {

struct ReadOptions {
  int page_size = 10;    // TASKS_PAGE_SIZE
  int cached_pages = 1;  // NUM_CACHED_PAGES
  std::chrono::seconds tasks_ttl{12 * 3600};
  std::chrono::seconds settings_ttl{4 * 3600};
};

class ReadQueries {
 public:
  ReadQueries(std::shared_ptr<storage::ReadModels> read_models,
              std::shared_ptr<storage::Cache> cache, PageTokenCodec codec, ReadOptions options);

  // Returns the JSON body of one page of the user's tasks: {"tasks":[...],"nextPageToken"?}.
  // `cursor` is nullopt for the first page. Pages within the cached range and of the default
  // size come from the cache, filled on a miss. Throws storage::StorageUnavailable.
  std::string TasksPage(std::string_view user_id, const std::optional<PageCursor>& cursor,
                        int page_size);

  // Returns {"tasksPerCategory":n,"showDoneTasks":b}, with the defaults for a user without
  // settings. Throws storage::StorageUnavailable.
  std::string Settings(std::string_view user_id);

  // The cache entries a refresh recomputes.
  struct RefreshScope {
    bool tasks = true;
    bool settings = true;
  };

  // Recomputes the cached pages and settings of a user (those in `scope`) from the read models.
  // `stamp` is the read-model checkpoint after the write that changed them. Returns false when the
  // cache could not be reached, because an entry older than `stamp` may then be left. The caller
  // must call InvalidateCacheBefore(stamp) once the cache is back.
  //
  // `cached_until`, when given and the pages are refreshed, receives the created_position of the
  // last task on the last cached page if the user's list goes on past the cached pages. It
  // receives nullopt when the cached pages contain the whole list, or nothing is cached.
  bool Refresh(std::string_view user_id, int64_t stamp, RefreshScope scope,
               std::optional<int64_t>* cached_until = nullptr);
  bool Refresh(std::string_view user_id, int64_t stamp) {
    return Refresh(user_id, stamp, RefreshScope{});
  }

  // Makes cached entries older than `stamp` count as absent everywhere (Cache::InvalidateBefore).
  // Returns false when the cache could not be reached.
  bool InvalidateCacheBefore(int64_t stamp);

  // Decodes a page token of the user; nullopt when malformed, edited or foreign.
  std::optional<PageCursor> DecodeToken(std::string_view user_id, std::string_view token) const {
    return codec_.Decode(user_id, token);
  }

  const ReadOptions& options() const { return options_; }

 private:
  std::string BuildPage(std::string_view user_id, const PageCursor& cursor, int page_size,
                        PageCursor* next);
  // `written`, when given, receives the outcome of the cache write, and `cached_until` what
  // Refresh documents.
  std::string FillTaskPages(std::string_view user_id, int64_t stamp, uint32_t wanted,
                            storage::CacheWrite* written = nullptr,
                            std::optional<int64_t>* cached_until = nullptr);
  std::string BuildSettings(std::string_view user_id);

  std::shared_ptr<storage::ReadModels> read_models_;
  std::shared_ptr<storage::Cache> cache_;
  PageTokenCodec codec_;
  ReadOptions options_;
};

// Cache keys, as the original named them.
inline std::string TasksCacheKey(std::string_view user_id) { return std::string(user_id) + ":ts"; }
inline std::string SettingsCacheKey(std::string_view user_id) {
  return std::string(user_id) + ":us";
}

}  // namespace prism::query
