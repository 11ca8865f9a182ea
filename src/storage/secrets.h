// Storage of secrets that every process of a deployment must share.
#pragma once

#include <string>
#include <string_view>

namespace prism::storage {

// Thread-safe. Methods throw StorageUnavailable when the backend cannot do the work.
class SecretStore {
 public:
  virtual ~SecretStore() = default;

  // Returns the secret stored under `name` (raw bytes), creating a random 32-byte one on first
  // use. Concurrent first calls from several processes all return the same value.
  virtual std::string LoadOrCreate(std::string_view name) = 0;
};

}  // namespace prism::storage
