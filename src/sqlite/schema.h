// The embedded schema as an ordered list of migrations. Migration i (0-based) brings the schema
// from version i to version i + 1, and the version is stored in PRAGMA user_version.
#pragma once

#include <string_view>
#include <vector>

namespace prism::sqlite {

// Every migration in order. A released migration is never edited; changes append a new one.
const std::vector<std::string_view>& Migrations();

}  // namespace prism::sqlite
