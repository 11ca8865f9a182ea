// Leadership held as a PostgreSQL session-level advisory lock on a connection of its own: the
// lock ends with the session, so a process that dies or loses its connection gives it up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "postgres/connection.h"
#include "storage/leader.h"

namespace prism::postgres {

class AdvisoryLeaderLock final : public storage::LeaderLock {
 public:
  // `key` names the role whose leadership this is; processes of one role pass the same key.
  AdvisoryLeaderLock(std::string database_url, std::string key);

  bool TryAcquire() override;
  bool StillHeld() override;
  void Release() override;

 private:
  ConnectionPool pool_;  // only for Connect(): opens the dedicated session with back-off
  std::string key_;
  std::unique_ptr<Connection> session_;
};

}  // namespace prism::postgres
