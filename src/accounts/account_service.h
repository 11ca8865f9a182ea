// Local accounts (AUTH_MODE=local): sign-up, sign-in, refresh and sign-out over HTTP.
//
//   POST /api/auth/signup  {"username","password","name"?,"email"?}  -> 201 {"userId"}
//   POST /api/auth/login   {"username","password"} -> 200 {"accessToken","expiresIn"} + cookie
//   POST /api/auth/refresh (refresh cookie)        -> 200 {"accessToken","expiresIn"} + cookie
//   POST /api/auth/logout  (refresh cookie)        -> 204, the token's family revoked
//
// Passwords are stored only as Argon2id hashes (libsodium). Access tokens are HS256 JWTs signed
// with the deployment's key and live for 15 minutes; refresh tokens are random, stored hashed,
// rotated on every use, and live for 30 days.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "http/router.h"
#include "storage/accounts.h"

namespace prism::accounts {

struct AccountOptions {
  bool signup_enabled = true;  // AUTH_SIGNUP
  std::chrono::seconds access_token_ttl{15 * 60};
  std::chrono::seconds refresh_token_ttl{30 * 24 * 3600};
  int max_failures = 5;                      // failed sign-ins per username before throttling
  std::chrono::seconds failure_window{900};  // failures older than this are forgotten
  int hashing_threads = 2;                   // Argon2id runs here, never on I/O threads
};

class AccountService {
 public:
  // `signing_key` is the HS256 key that the local-mode verifier checks tokens with.
  AccountService(std::shared_ptr<storage::AccountStore> store, std::string signing_key,
                 AccountOptions options);
  ~AccountService();

  void Register(http::Router& router);

  // Finishes the hashing jobs in progress.
  void Stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace prism::accounts
