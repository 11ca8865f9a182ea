// Opaque page tokens of GET /api/tasks.
//
// A token names a position in the user's task list, not an offset: the list is ordered by the
// immutable position of each task's task-created event, so a token stays correct after any later
// write (new tasks only ever append). Tokens are authenticated with HMAC-SHA256 over the user id
// and the payload, so a token of another user, or an edited one, is rejected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace prism::query {

// Page index of a cursor that did not come from a walk at the default page size.
inline constexpr uint32_t kUncachedPage = 0xFFFFFFFF;

struct PageCursor {
  int64_t after_position = 0;  // list tasks whose created_position is greater
  uint32_t page_index = 0;     // 0 for the first page; lets cached pages serve later pages
};

class PageTokenCodec {
 public:
  // `key` is the HMAC key; at least 32 bytes of secret randomness shared by every API replica.
  explicit PageTokenCodec(std::string key);

  // Returns the token of the page that starts after `cursor`, for `user_id`.
  std::string Encode(std::string_view user_id, const PageCursor& cursor) const;

  // Returns the cursor, or nullopt when the token is malformed, edited or issued to another user.
  std::optional<PageCursor> Decode(std::string_view user_id, std::string_view token) const;

 private:
  std::string key_;
};

}  // namespace prism::query
