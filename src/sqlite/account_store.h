// Local accounts and refresh tokens in the embedded database.
#pragma once

#include <memory>

#include "sqlite/database.h"
#include "storage/accounts.h"

namespace prism::sqlite {

class SqliteAccountStore : public storage::AccountStore {
 public:
  explicit SqliteAccountStore(std::shared_ptr<Database> database);

  bool CreateAccount(const storage::Account& account) override;
  std::optional<storage::Account> FindAccount(std::string_view username) override;
  void StoreRefreshToken(const storage::RefreshToken& token) override;
  std::optional<storage::RefreshToken> UseRefreshToken(std::string_view token_hash) override;
  void RevokeFamily(std::string_view family_id) override;

 private:
  std::shared_ptr<Database> database_;
};

}  // namespace prism::sqlite
