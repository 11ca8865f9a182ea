#include "sqlite/account_store.h"

namespace prism::sqlite {
namespace {

// Usernames are ASCII (checked at sign-up), so lowering ASCII letters is a full case fold.
std::string UsernameKey(std::string_view username) {
  std::string key(username);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

}  // namespace

SqliteAccountStore::SqliteAccountStore(std::shared_ptr<Database> database)
    : database_(std::move(database)) {}

bool SqliteAccountStore::CreateAccount(const storage::Account& account) {
  bool created = false;
  database_->Write(Durability::kFull, [&](Connection& connection) {
    auto insert = connection.Prepare(
        "INSERT INTO accounts (user_id, username, username_key, password_hash, name, email, "
        "created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (username_key) DO NOTHING");
    insert.BindAll(account.user_id, account.username, UsernameKey(account.username),
                   account.password_hash, account.name, account.email, account.created_at_ms);
    insert.Run();
    created = connection.Changes() == 1;
  });
  return created;
}

std::optional<storage::Account> SqliteAccountStore::FindAccount(std::string_view username) {
  std::optional<storage::Account> found;
  database_->Read([&](Connection& connection) {
    auto select = connection.Prepare(
        "SELECT user_id, username, password_hash, name, email, created_at_ms FROM accounts "
        "WHERE username_key = ?1");
    select.Bind(1, UsernameKey(username));
    if (select.Step()) {
      found = storage::Account{select.Text(0), select.Text(1), select.Text(2),
                               select.Text(3), select.Text(4), select.Int(5)};
      while (select.Step()) {
      }
    }
  });
  return found;
}

void SqliteAccountStore::StoreRefreshToken(const storage::RefreshToken& token) {
  database_->Write(Durability::kFull, [&](Connection& connection) {
    auto insert = connection.Prepare(
        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at_ms) "
        "VALUES (?1, ?2, ?3, ?4)");
    insert.BindAll(token.token_hash, token.user_id, token.family_id, token.expires_at_ms);
    insert.Run();
  });
}

std::optional<storage::RefreshToken> SqliteAccountStore::UseRefreshToken(
    std::string_view token_hash) {
  std::optional<storage::RefreshToken> before;
  database_->Write(Durability::kFull, [&](Connection& connection) {
    auto select = connection.Prepare(
        "SELECT user_id, family_id, expires_at_ms, used, revoked FROM refresh_tokens "
        "WHERE token_hash = ?1");
    select.Bind(1, token_hash);
    if (!select.Step()) return;
    before = storage::RefreshToken{std::string(token_hash), select.Text(0),     select.Text(1),
                                   select.Int(2),           select.Int(3) != 0, select.Int(4) != 0};
    while (select.Step()) {
    }
    auto mark = connection.Prepare("UPDATE refresh_tokens SET used = 1 WHERE token_hash = ?1");
    mark.Bind(1, token_hash);
    mark.Run();
  });
  return before;
}

void SqliteAccountStore::RevokeFamily(std::string_view family_id) {
  database_->Write(Durability::kFull, [&](Connection& connection) {
    auto revoke = connection.Prepare("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ?1");
    revoke.Bind(1, family_id);
    revoke.Run();
  });
}

}  // namespace prism::sqlite
