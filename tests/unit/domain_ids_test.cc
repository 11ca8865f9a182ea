#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "domain/ids.h"

namespace prism::domain {
namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

int64_t TimestampOf(const std::string& uuid) {
  std::string hex = uuid.substr(0, 8) + uuid.substr(9, 4);
  return std::stoll(hex, nullptr, 16);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(Ids, UuidV7HasCanonicalLowercaseForm) {
  std::string id = NewUuidV7();
  ASSERT_EQ(id.size(), 36u);
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      EXPECT_EQ(id[i], '-') << id;
    } else {
      EXPECT_TRUE(IsLowerHex(id[i])) << id;
    }
  }
  EXPECT_TRUE(IsUuid(id));
}

TEST(Ids, UuidV7HasVersionAndVariantBits) {
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewUuidV7();
    EXPECT_EQ(id[14], '7') << id;
    char variant = id[19];
    EXPECT_TRUE(variant == '8' || variant == '9' || variant == 'a' || variant == 'b') << id;
  }
}

TEST(Ids, UuidV7CarriesCurrentTime) {
  int64_t before = NowMs();
  std::string id = NewUuidV7();
  int64_t after = NowMs();
  // Carried-forward timestamps can run ahead of the clock by at most a few milliseconds here.
  EXPECT_GE(TimestampOf(id), before);
  EXPECT_LE(TimestampOf(id), after + 1000);
}

TEST(Ids, UuidV7IsMonotonicAcross100kIds) {
  std::string previous = NewUuidV7();
  for (int i = 0; i < 100000; ++i) {
    std::string next = NewUuidV7();
    ASSERT_LT(previous, next) << "after " << i << " ids";
    previous = std::move(next);
  }
}

TEST(Ids, UuidV7IsUniqueAndOrderedPerThread) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(NewUuidV7());
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::set<std::string> all;
  for (const auto& list : ids) {
    for (size_t i = 1; i < list.size(); ++i) ASSERT_LT(list[i - 1], list[i]);
    all.insert(list.begin(), list.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(Ids, UuidV7RandomPartDiffers) {
  std::set<std::string> tails;
  for (int i = 0; i < 1000; ++i) tails.insert(NewUuidV7().substr(19));
  EXPECT_EQ(tails.size(), 1000u);
}

struct UuidCase {
  std::string text;
  bool valid;
};

class IdsIsUuid : public testing::TestWithParam<UuidCase> {};

TEST_P(IdsIsUuid, ChecksCanonicalForm) {
  EXPECT_EQ(IsUuid(GetParam().text), GetParam().valid) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Ids, IdsIsUuid,
    testing::Values(UuidCase{"0190f5a2-7b1c-7def-8abc-0123456789ab", true},
                    UuidCase{"0190F5A2-7B1C-7DEF-8ABC-0123456789AB", true},
                    UuidCase{"00000000-0000-0000-0000-000000000000", true},
                    UuidCase{"f47ac10b-58cc-4372-a567-0e02b2c3d479", true}, UuidCase{"", false},
                    UuidCase{"0190f5a2-7b1c-7def-8abc-0123456789a", false},
                    UuidCase{"0190f5a2-7b1c-7def-8abc-0123456789abc", false},
                    UuidCase{"0190f5a27b1c7def8abc0123456789ab", false},
                    UuidCase{"0190f5a2-7b1c-7def-8abc+0123456789ab", false},
                    UuidCase{"0190f5a-27b1c-7def-8abc-0123456789ab", false},
                    UuidCase{"0190f5g2-7b1c-7def-8abc-0123456789ab", false},
                    UuidCase{"{0190f5a2-7b1c-7def-8abc-0123456789}", false},
                    UuidCase{" 0190f5a2-7b1c-7def-8abc-0123456789a", false},
                    UuidCase{std::string("0190f5a2-7b1c-7def-8abc-0123456789a\0", 36), false}));

struct KeyCase {
  std::string key;
  bool valid;
};

class IdsIdempotencyKey : public testing::TestWithParam<KeyCase> {};

TEST_P(IdsIdempotencyKey, ChecksPrintableAscii) {
  EXPECT_EQ(IsValidIdempotencyKey(GetParam().key), GetParam().valid) << GetParam().key;
}

INSTANTIATE_TEST_SUITE_P(
    Ids, IdsIdempotencyKey,
    testing::Values(KeyCase{"a", true}, KeyCase{"!~", true}, KeyCase{"optional-client-key", true},
                    KeyCase{std::string(128, 'k'), true}, KeyCase{std::string(129, 'k'), false},
                    KeyCase{"", false}, KeyCase{"a b", false}, KeyCase{" ", false},
                    KeyCase{"a\tb", false}, KeyCase{"a\x7F", false}, KeyCase{"caf\xC3\xA9", false},
                    KeyCase{std::string("a\0b", 3), false}));

TEST(Ids, GeneratedIdempotencyKeysAreValidAndUnique) {
  std::set<std::string> keys;
  for (int i = 0; i < 1000; ++i) {
    std::string key = NewIdempotencyKey();
    EXPECT_TRUE(IsValidIdempotencyKey(key)) << key;
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), 1000u);
}

}  // namespace
}  // namespace prism::domain
