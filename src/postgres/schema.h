// The versioned schema of the PostgreSQL backend.
#pragma once

#include <string_view>
#include <vector>

#include "postgres/connection.h"

namespace prism::postgres {

// Migration scripts; element i brings the schema from version i to i + 1. Never edit a released
// script: append a new one.
const std::vector<std::string_view>& Migrations();

// Applies the migrations the database lacks, each in its own transaction that also records its
// version in `schema_migrations`. A session-level pg_advisory_lock serialises concurrent callers
// (several `prism init` at once), so each script runs once. Throws StorageUnavailable.
void MigrateSchema(ConnectionPool& pool);

// The key of the advisory lock that MigrateSchema holds.
inline constexpr int64_t kMigrationLockKey = 0x7072'6973'6d00'0001;  // "prism", 1

}  // namespace prism::postgres
