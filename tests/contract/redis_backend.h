// Access to the Redis server that the CTest fixture "redis" starts (tests/servers/redis.sh).
#pragma once

#include <cstdint>
#include <string>

namespace prism::contract {

// The URL in $PRISM_TEST_REDIS_DIR/redis.url. Throws std::runtime_error when the variable is
// unset or the file is missing (run the tests through ctest, which starts the server).
std::string TestRedisUrl();

// A fresh random key prefix, "test:<hex>:".
std::string RandomKeyPrefix();

// Deletes every key that starts with `prefix`.
void DeleteKeys(const std::string& url, const std::string& prefix);

// XLEN of <prefix><key>.
int64_t StreamLength(const std::string& url, const std::string& key);

}  // namespace prism::contract
