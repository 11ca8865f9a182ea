// Leadership among the processes of one role. At most one process is the leader at a time, so
// work that must run once per deployment (the projector) runs in one process while the others
// wait to take over.
#pragma once

namespace prism::storage {

// Not thread-safe: one thread of one process uses it.
class LeaderLock {
 public:
  virtual ~LeaderLock() = default;

  // Takes leadership when no other process has it, and returns whether this process is the
  // leader now. Throws StorageUnavailable when the backend cannot be reached.
  virtual bool TryAcquire() = 0;

  // Whether leadership is still held. Returns false once the session that held it is gone (the
  // backend restarted or the connection broke), because another process may have taken it.
  virtual bool StillHeld() = 0;

  // Gives leadership up, so a standby takes over at once.
  virtual void Release() = 0;
};

}  // namespace prism::storage
