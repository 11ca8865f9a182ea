#include "accounts/account_service.h"

#include <deque>
#include <mutex>
#include <unordered_map>

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>

#include "api/responses.h"
#include "auth/jwt.h"
#include "auth/verifier.h"
#include "common/base64url.h"
#include "common/log.h"
#include "domain/ids.h"
#include "domain/strict_json.h"

namespace prism::accounts {
namespace {

namespace json = boost::json;
namespace http_proto = boost::beast::http;
constexpr const char* kComponent = "accounts";
constexpr const char* kCookieName = "prism_refresh";
constexpr size_t kMinPasswordLength = 10;
constexpr size_t kMaxPasswordLength = 1024;
constexpr size_t kMaxUsernameLength = 64;
constexpr size_t kMaxProfileLength = 256;
constexpr int kMaxBodyDepth = 4;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Sha256Hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : digest) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 15]);
  }
  return out;
}

std::string RandomToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

// Usernames: 1-64 characters of letters, digits and . _ - @, so they are safe in logs and URLs.
bool IsValidUsername(std::string_view username) {
  if (username.empty() || username.size() > kMaxUsernameLength) return false;
  for (char c : username) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '@';
    if (!ok) return false;
  }
  return true;
}

// Reads a string field; `present` tells whether it was there at all.
std::optional<std::string> StringField(const json::object& object, std::string_view key,
                                       bool* wrong_type) {
  const json::value* value = object.if_contains(key);
  if (!value) return std::nullopt;
  if (!value->is_string()) {
    *wrong_type = true;
    return std::nullopt;
  }
  return std::string(value->get_string());
}

// Parses a request body as one JSON object; repeated keys are rejected as in command bodies.
std::optional<json::object> ParseObject(std::string_view body) {
  std::string error;
  std::optional<json::value> value = domain::ParseStrictJson(body, kMaxBodyDepth, &error);
  if (!value || !value->is_object()) return std::nullopt;
  return value->get_object();
}

std::optional<std::string> RefreshCookie(const http::Request& request) {
  auto header = request.find(http_proto::field::cookie);
  if (header == request.end()) return std::nullopt;
  std::string_view cookies = header->value();
  std::string prefix = std::string(kCookieName) + "=";
  size_t at = 0;
  while (at < cookies.size()) {
    while (at < cookies.size() && (cookies[at] == ' ' || cookies[at] == ';')) ++at;
    size_t end = cookies.find(';', at);
    std::string_view pair = cookies.substr(at, end == std::string_view::npos ? end : end - at);
    if (pair.starts_with(prefix)) return std::string(pair.substr(prefix.size()));
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return std::nullopt;
}

// Behind a TLS proxy the cookie must carry Secure; nginx sets X-Forwarded-Proto.
bool BehindTls(const http::Request& request) {
  auto header = request.find("X-Forwarded-Proto");
  return header != request.end() && boost::beast::iequals(header->value(), "https");
}

}  // namespace

struct AccountService::Impl : std::enable_shared_from_this<Impl> {
  std::shared_ptr<storage::AccountStore> store;
  std::string signing_key;
  AccountOptions options;
  boost::asio::thread_pool hashing;
  std::string dummy_hash;  // verified against for unknown usernames, so timing reveals nothing

  std::mutex failures_mutex;
  std::unordered_map<std::string, std::deque<std::chrono::steady_clock::time_point>>
      failures;  // guarded by failures_mutex; keyed by lowercase username

  Impl(std::shared_ptr<storage::AccountStore> s, std::string key, AccountOptions o)
      : store(std::move(s)),
        signing_key(std::move(key)),
        options(o),
        hashing(static_cast<size_t>(std::max(1, o.hashing_threads))) {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    dummy_hash = HashPassword("not-a-real-password-for-timing");
  }

  static std::string HashPassword(const std::string& password) {
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
      throw std::runtime_error("Argon2id hashing ran out of memory");
    }
    return out;
  }

  static bool VerifyPassword(const std::string& hash, const std::string& password) {
    return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  }

  // Seconds until the user may try again, or 0 when not throttled.
  int64_t ThrottledFor(const std::string& key) {
    std::lock_guard lock(failures_mutex);
    auto it = failures.find(key);
    if (it == failures.end()) return 0;
    auto now = std::chrono::steady_clock::now();
    auto& times = it->second;
    while (!times.empty() && now - times.front() > options.failure_window) times.pop_front();
    if (static_cast<int>(times.size()) < options.max_failures) return 0;
    auto wait = options.failure_window - (now - times.front());
    return std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(wait).count());
  }

  void RecordFailure(const std::string& key) {
    std::lock_guard lock(failures_mutex);
    auto& times = failures[key];
    times.push_back(std::chrono::steady_clock::now());
    while (static_cast<int>(times.size()) > options.max_failures) times.pop_front();
  }

  void ClearFailures(const std::string& key) {
    std::lock_guard lock(failures_mutex);
    failures.erase(key);
  }

  // Issues an access token and a new refresh token of `family_id`, and answers with both.
  http::Response IssueTokens(const http::Request& request, const std::string& user_id,
                             const std::string& family_id) {
    int64_t now_s = NowMs() / 1000;
    json::object claims{{"sub", user_id},
                        {"iss", auth::kLocalIssuer},
                        {"aud", auth::kLocalAudience},
                        {"iat", now_s},
                        {"exp", now_s + options.access_token_ttl.count()}};
    std::string access_token = auth::SignHs256(claims, signing_key);

    std::string refresh = RandomToken();
    storage::RefreshToken record;
    record.token_hash = Sha256Hex(refresh);
    record.user_id = user_id;
    record.family_id = family_id;
    record.expires_at_ms = NowMs() + options.refresh_token_ttl.count() * 1000;
    store->StoreRefreshToken(record);

    json::object body{{"accessToken", access_token},
                      {"expiresIn", options.access_token_ttl.count()}};
    http::Response response = api::JsonResponse(request, 200, json::serialize(body));
    SetCookie(request, response, refresh, options.refresh_token_ttl.count());
    return response;
  }

  void SetCookie(const http::Request& request, http::Response& response, const std::string& value,
                 int64_t max_age) {
    std::string cookie =
        std::string(kCookieName) + "=" + value +
        "; Path=/api/auth; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age);
    if (BehindTls(request)) cookie += "; Secure";
    response.set(http_proto::field::set_cookie, cookie);
  }

  void SignUp(std::shared_ptr<http::Request> request, http::Responder respond) {
    if (!options.signup_enabled) {
      return respond(api::ErrorResponse(*request, 403, "sign-up is disabled on this server"));
    }
    auto object = ParseObject(request->body());
    if (!object) return respond(api::ErrorResponse(*request, 400, "invalid body"));
    bool wrong_type = false;
    auto username = StringField(*object, "username", &wrong_type);
    auto password = StringField(*object, "password", &wrong_type);
    auto name = StringField(*object, "name", &wrong_type);
    auto email = StringField(*object, "email", &wrong_type);
    if (wrong_type) return respond(api::ErrorResponse(*request, 400, "fields must be strings"));
    if (!username || !IsValidUsername(*username)) {
      return respond(api::ErrorResponse(*request, 400,
                                        "invalid username: use 1-64 letters, digits or . _ - @"));
    }
    if (!password || password->size() < kMinPasswordLength) {
      return respond(api::ErrorResponse(*request, 400, "password must be at least 10 characters"));
    }
    if (password->size() > kMaxPasswordLength || name.value_or("").size() > kMaxProfileLength ||
        email.value_or("").size() > kMaxProfileLength) {
      return respond(api::ErrorResponse(*request, 400, "field too long"));
    }

    boost::asio::post(
        hashing, [self = shared_from_this(), request, respond, username = *username,
                  password = *password, name = name.value_or(""), email = email.value_or("")] {
          storage::Account account{
              domain::NewUuidV7(), username, HashPassword(password), name, email, NowMs()};
          try {
            if (!self->store->CreateAccount(account)) {
              return respond(api::ErrorResponse(*request, 409, "username is already taken"));
            }
          } catch (const std::exception& error) {
            log::Error(kComponent, "sign-up failed", {{"error", error.what()}});
            return respond(api::UnavailableResponse(*request, "accounts are unavailable"));
          }
          log::Info(kComponent, "account created", {{"user_id", account.user_id}});
          json::object body{{"userId", account.user_id}, {"username", account.username}};
          respond(api::JsonResponse(*request, 201, json::serialize(body)));
        });
  }

  void Login(std::shared_ptr<http::Request> request, http::Responder respond) {
    auto object = ParseObject(request->body());
    if (!object) return respond(api::ErrorResponse(*request, 400, "invalid body"));
    bool wrong_type = false;
    auto username = StringField(*object, "username", &wrong_type);
    auto password = StringField(*object, "password", &wrong_type);
    if (wrong_type || !username || !password || password->size() > kMaxPasswordLength ||
        username->size() > kMaxUsernameLength) {
      return respond(api::ErrorResponse(*request, 400, "username and password are required"));
    }
    std::string key = Lowercase(*username);
    if (int64_t wait = ThrottledFor(key); wait > 0) {
      http::Response response =
          api::ErrorResponse(*request, 429, "too many failed sign-ins; retry later");
      response.set(http_proto::field::retry_after, std::to_string(wait));
      return respond(std::move(response));
    }

    boost::asio::post(hashing, [self = shared_from_this(), request, respond, key,
                                username = *username, password = *password] {
      try {
        auto account = self->store->FindAccount(username);
        bool valid = VerifyPassword(account ? account->password_hash : self->dummy_hash, password);
        if (!account || !valid) {
          self->RecordFailure(key);
          log::Warn(kComponent, "sign-in failed", {{"username", username}});
          return respond(api::ErrorResponse(*request, 401, "invalid username or password"));
        }
        self->ClearFailures(key);
        log::Info(kComponent, "signed in", {{"user_id", account->user_id}});
        respond(self->IssueTokens(*request, account->user_id, domain::NewUuidV7()));
      } catch (const std::exception& error) {
        log::Error(kComponent, "sign-in failed", {{"error", error.what()}});
        respond(api::UnavailableResponse(*request, "accounts are unavailable"));
      }
    });
  }

  void Refresh(http::Request& request, http::Responder respond) {
    auto cookie = RefreshCookie(request);
    if (!cookie) return respond(api::UnauthorizedResponse(request, "missing refresh token"));
    try {
      auto token = store->UseRefreshToken(Sha256Hex(*cookie));
      if (!token || token->revoked || token->expires_at_ms <= NowMs()) {
        return respond(api::UnauthorizedResponse(request, "invalid refresh token"));
      }
      if (token->used) {
        // A used token presented again: someone holds a copy. End the whole sign-in.
        store->RevokeFamily(token->family_id);
        log::Warn(kComponent, "refresh token reused; sign-in revoked",
                  {{"user_id", token->user_id}});
        return respond(api::UnauthorizedResponse(request, "invalid refresh token"));
      }
      respond(IssueTokens(request, token->user_id, token->family_id));
    } catch (const std::exception& error) {
      log::Error(kComponent, "refresh failed", {{"error", error.what()}});
      respond(api::UnavailableResponse(request, "accounts are unavailable"));
    }
  }

  void Logout(http::Request& request, http::Responder respond) {
    http::Response response{http_proto::status::no_content, request.version()};
    response.keep_alive(request.keep_alive());
    SetCookie(request, response, "", 0);
    try {
      if (auto cookie = RefreshCookie(request)) {
        if (auto token = store->UseRefreshToken(Sha256Hex(*cookie))) {
          store->RevokeFamily(token->family_id);
          log::Info(kComponent, "signed out", {{"user_id", token->user_id}});
        }
      }
    } catch (const std::exception& error) {
      log::Error(kComponent, "sign-out failed", {{"error", error.what()}});
      return respond(api::UnavailableResponse(request, "accounts are unavailable"));
    }
    respond(std::move(response));
  }
};

AccountService::AccountService(std::shared_ptr<storage::AccountStore> store,
                               std::string signing_key, AccountOptions options)
    : impl_(std::make_shared<Impl>(std::move(store), std::move(signing_key), options)) {}

AccountService::~AccountService() { Stop(); }

void AccountService::Stop() { impl_->hashing.join(); }

void AccountService::Register(http::Router& router) {
  using http_proto::verb;
  auto impl = impl_;
  router.Add(verb::post, "/api/auth/signup", [impl](auto& request, auto&, auto respond) {
    impl->SignUp(std::make_shared<http::Request>(std::move(request)), std::move(respond));
  });
  router.Add(verb::post, "/api/auth/login", [impl](auto& request, auto&, auto respond) {
    impl->Login(std::make_shared<http::Request>(std::move(request)), std::move(respond));
  });
  router.Add(verb::post, "/api/auth/refresh", [impl](auto& request, auto&, auto respond) {
    impl->Refresh(request, std::move(respond));
  });
  router.Add(verb::post, "/api/auth/logout", [impl](auto& request, auto&, auto respond) {
    impl->Logout(request, std::move(respond));
  });
}

}  // namespace prism::accounts
