#include <algorithm>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/claims.h"
#include "auth/verifier.h"

namespace prism::auth {

namespace {

constexpr std::size_t kMaxShards = 16;
// Bytes at the end of a token that pick its shard. They belong to the signature, which is as good
// as random, so hashing them spreads tokens as well as hashing the whole token would.
constexpr std::size_t kShardKeyBytes = 16;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>{}(text);
  }
};

struct Entry {
  Identity identity;
  int64_t valid_until = 0;  // Unix seconds, exclusive
};

struct Shard {
  std::mutex mutex;
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> entries;  // guarded by mutex
};

class CachingVerifier final : public TokenVerifier {
 public:
  CachingVerifier(std::unique_ptr<TokenVerifier> inner, std::size_t max_entries, UnixClock now)
      : inner_(std::move(inner)),
        shards_(std::min(kMaxShards, max_entries)),
        shard_capacity_(max_entries / shards_.size()),
        now_(std::move(now)) {}

  std::variant<Identity, VerifyError> Verify(std::string_view token) override {
    Shard& shard = ShardOf(token);
    int64_t now = UnixNow(now_);
    if (std::optional<Identity> cached = Lookup(shard, token, now)) return std::move(*cached);

    std::variant<Identity, VerifyError> result = inner_->Verify(token);
    if (const auto* identity = std::get_if<Identity>(&result)) Insert(shard, token, *identity, now);
    return result;
  }

 private:
  Shard& ShardOf(std::string_view token) {
    std::string_view tail = token.substr(token.size() - std::min(token.size(), kShardKeyBytes));
    return shards_[StringHash{}(tail) % shards_.size()];
  }

  static std::optional<Identity> Lookup(Shard& shard, std::string_view token, int64_t now) {
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(token);
    if (it == shard.entries.end()) return std::nullopt;
    if (now >= it->second.valid_until) {
      shard.entries.erase(it);
      return std::nullopt;
    }
    return it->second.identity;
  }

  void Insert(Shard& shard, std::string_view token, const Identity& identity, int64_t now) {
    int64_t valid_until =
        identity.expires_at != 0 ? identity.expires_at : now + kNoExpiryCacheSeconds;
    if (now >= valid_until) return;

    std::lock_guard lock(shard.mutex);
    if (shard.entries.size() >= shard_capacity_) MakeRoom(shard, now);
    shard.entries.insert_or_assign(std::string(token), Entry{identity, valid_until});
  }

  // Drops expired entries; when none had expired, drops one arbitrary entry. The caller holds
  // shard.mutex.
  void MakeRoom(Shard& shard, int64_t now) {
    std::erase_if(shard.entries,
                  [now](const auto& item) { return now >= item.second.valid_until; });
    if (shard.entries.size() >= shard_capacity_) shard.entries.erase(shard.entries.begin());
  }

  const std::unique_ptr<TokenVerifier> inner_;
  std::vector<Shard> shards_;
  const std::size_t shard_capacity_;
  const UnixClock now_;
};

}  // namespace

std::unique_ptr<TokenVerifier> WithCache(std::unique_ptr<TokenVerifier> inner,
                                         std::size_t max_entries, UnixClock now) {
  if (max_entries == 0) return inner;
  return std::make_unique<CachingVerifier>(std::move(inner), max_entries, std::move(now));
}

}  // namespace prism::auth
