// Local accounts, refresh tokens and shared secrets in PostgreSQL.
#pragma once

#include <memory>
#include <string>

#include "postgres/connection.h"
#include "storage/accounts.h"
#include "storage/secrets.h"

namespace prism::postgres {

// storage::AccountStore on the `accounts` and `refresh_tokens` tables. Thread-safe.
class PostgresAccountStore final : public storage::AccountStore {
 public:
  explicit PostgresAccountStore(std::shared_ptr<ConnectionPool> pool);

  bool CreateAccount(const storage::Account& account) override;
  std::optional<storage::Account> FindAccount(std::string_view username) override;
  void StoreRefreshToken(const storage::RefreshToken& token) override;
  std::optional<storage::RefreshToken> UseRefreshToken(std::string_view token_hash) override;
  void RevokeFamily(std::string_view family_id) override;

 private:
  std::shared_ptr<ConnectionPool> pool_;
};

// storage::SecretStore on the `secrets` table, so every process of a deployment signs and
// verifies with the same key. Thread-safe.
class PostgresSecretStore final : public storage::SecretStore {
 public:
  explicit PostgresSecretStore(std::shared_ptr<ConnectionPool> pool);

  // Inserts 32 random bytes under `name` unless a value exists (INSERT ... ON CONFLICT DO
  // NOTHING), then returns the stored value, so racing processes all get the first one.
  std::string LoadOrCreate(std::string_view name) override;

 private:
  std::shared_ptr<ConnectionPool> pool_;
};

}  // namespace prism::postgres
