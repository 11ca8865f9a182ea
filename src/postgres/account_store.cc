#include "postgres/account_store.h"

#include <openssl/rand.h>

#include <array>
#include <utility>

namespace prism::postgres {

namespace {

constexpr size_t kSecretBytes = 32;

// Usernames are ASCII (checked at sign-up), so lowering ASCII letters is a full case fold.
std::string UsernameKey(std::string_view username) {
  std::string key(username);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

std::string Hex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    text.push_back(kDigits[bytes[i] >> 4]);
    text.push_back(kDigits[bytes[i] & 0xf]);
  }
  return text;
}

std::string Unhex(std::string_view text) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0;
  };
  std::string bytes;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    bytes.push_back(static_cast<char>(nibble(text[i]) << 4 | nibble(text[i + 1])));
  }
  return bytes;
}

}  // namespace

PostgresAccountStore::PostgresAccountStore(std::shared_ptr<ConnectionPool> pool)
    : pool_(std::move(pool)) {}

bool PostgresAccountStore::CreateAccount(const storage::Account& account) {
  bool created = false;
  pool_->Run([&](Connection& connection) {
    created =
        connection
            .Exec(
                "INSERT INTO accounts (user_id, username, username_key, password_hash, "
                "name, email, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT (username_key) DO NOTHING",
                Params(account.user_id, account.username, UsernameKey(account.username),
                       account.password_hash, account.name, account.email, account.created_at_ms))
            .Affected() == 1;
  });
  return created;
}

std::optional<storage::Account> PostgresAccountStore::FindAccount(std::string_view username) {
  std::optional<storage::Account> found;
  pool_->Run([&](Connection& connection) {
    Result rows = connection.Exec(
        "SELECT user_id, username, password_hash, name, email, created_at_ms FROM accounts "
        "WHERE username_key = $1",
        Params(UsernameKey(username)));
    if (rows.Empty()) return;
    found = storage::Account{rows.Text(0, 0), rows.Text(0, 1), rows.Text(0, 2),
                             rows.Text(0, 3), rows.Text(0, 4), rows.Int(0, 5)};
  });
  return found;
}

void PostgresAccountStore::StoreRefreshToken(const storage::RefreshToken& token) {
  pool_->Run([&](Connection& connection) {
    connection.Exec(
        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at_ms) "
        "VALUES ($1, $2, $3, $4)",
        Params(token.token_hash, token.user_id, token.family_id, token.expires_at_ms));
  });
}

std::optional<storage::RefreshToken> PostgresAccountStore::UseRefreshToken(
    std::string_view token_hash) {
  std::optional<storage::RefreshToken> before;
  pool_->Transaction([&](Connection& connection) {
    before.reset();
    // FOR UPDATE makes a concurrent use of the same token wait and then read used = true.
    Result rows = connection.Exec(
        "SELECT user_id, family_id, expires_at_ms, used, revoked FROM refresh_tokens "
        "WHERE token_hash = $1 FOR UPDATE",
        Params(token_hash));
    if (rows.Empty()) return;
    before = storage::RefreshToken{std::string(token_hash), rows.Text(0, 0), rows.Text(0, 1),
                                   rows.Int(0, 2),          rows.Bool(0, 3), rows.Bool(0, 4)};
    connection.Exec("UPDATE refresh_tokens SET used = TRUE WHERE token_hash = $1",
                    Params(token_hash));
  });
  return before;
}

void PostgresAccountStore::RevokeFamily(std::string_view family_id) {
  pool_->Run([&](Connection& connection) {
    connection.Exec("UPDATE refresh_tokens SET revoked = TRUE WHERE family_id = $1",
                    Params(family_id));
  });
}

PostgresSecretStore::PostgresSecretStore(std::shared_ptr<ConnectionPool> pool)
    : pool_(std::move(pool)) {}

std::string PostgresSecretStore::LoadOrCreate(std::string_view name) {
  std::array<unsigned char, kSecretBytes> fresh{};
  if (RAND_bytes(fresh.data(), static_cast<int>(fresh.size())) != 1) {
    throw storage::StorageUnavailable("cannot generate a random secret: RAND_bytes failed");
  }
  std::string stored;
  pool_->Run([&](Connection& connection) {
    connection.Exec(
        "INSERT INTO secrets (name, value) VALUES ($1, decode($2, 'hex')) "
        "ON CONFLICT (name) DO NOTHING",
        Params(name, Hex(fresh.data(), fresh.size())));
    stored = Unhex(
        connection.Exec("SELECT encode(value, 'hex') FROM secrets WHERE name = $1", Params(name))
            .Text(0, 0));
  });
  return stored;
}

}  // namespace prism::postgres
