// Storage of local accounts and their refresh tokens (AUTH_MODE=local).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace prism::storage {

struct Account {
  std::string user_id;        // the token's `sub`
  std::string username;       // as the user typed it; unique case-insensitively
  std::string password_hash;  // Argon2id in libsodium's encoded form; never the password
  std::string name;
  std::string email;
  int64_t created_at_ms = 0;
};

// Refresh tokens are stored only as a hash. Every token belongs to a family that starts at
// sign-in; using a token rotates it (the old one becomes `used`), and presenting a used token
// again revokes the whole family, because only a stolen copy can be presented twice.
struct RefreshToken {
  std::string token_hash;  // SHA-256 of the token, hex
  std::string user_id;
  std::string family_id;
  int64_t expires_at_ms = 0;
  bool used = false;
  bool revoked = false;
};

// Thread-safe. Methods throw StorageUnavailable when the backend cannot do the work.
class AccountStore {
 public:
  virtual ~AccountStore() = default;

  // Returns false when the username is already taken (compared case-insensitively).
  virtual bool CreateAccount(const Account& account) = 0;

  // Finds an account by username, case-insensitively.
  virtual std::optional<Account> FindAccount(std::string_view username) = 0;

  virtual void StoreRefreshToken(const RefreshToken& token) = 0;

  // Marks the token used and returns its state from before, atomically, so two concurrent
  // refreshes with one token cannot both see it unused. nullopt for an unknown token.
  virtual std::optional<RefreshToken> UseRefreshToken(std::string_view token_hash) = 0;

  virtual void RevokeFamily(std::string_view family_id) = 0;
};

}  // namespace prism::storage
