#include "postgres/leader_lock.h"

namespace prism::postgres {

namespace {

// The lock's key is a 64-bit hash of the role's name, computed by the server (hashtextextended)
// so that every process of every version derives the same number.
constexpr std::string_view kTryLock = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))";
constexpr std::string_view kUnlock = "SELECT pg_advisory_unlock(hashtextextended($1, 0))";

}  // namespace

AdvisoryLeaderLock::AdvisoryLeaderLock(std::string database_url, std::string key)
    : pool_(std::move(database_url), PoolOptions{.max_connections = 1}), key_(std::move(key)) {}

bool AdvisoryLeaderLock::TryAcquire() {
  if (!session_ || session_->Broken()) session_ = pool_.Connect();
  try {
    return session_->Exec(kTryLock, Params(key_)).Bool(0, 0);
  } catch (const DatabaseError&) {
    session_.reset();
    throw;
  }
}

bool AdvisoryLeaderLock::StillHeld() {
  if (!session_) return false;
  try {
    session_->Exec("SELECT 1");
    return true;
  } catch (const DatabaseError&) {
    session_.reset();
    return false;
  }
}

void AdvisoryLeaderLock::Release() {
  if (!session_) return;
  try {
    session_->Exec(kUnlock, Params(key_));
  } catch (const DatabaseError&) {
    // The session is broken, which ends the lock as well.
  }
  session_.reset();
}

}  // namespace prism::postgres
