// Identifiers: UUIDv7 for events, tasks and generated idempotency keys, and the checks that the
// domain applies to identifiers that clients send.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace prism::domain {

// Returns a new UUIDv7 (RFC 9562) in canonical lowercase text form (36 characters).
//
// Layout: 48-bit Unix time in milliseconds, version 7, a 12-bit counter in rand_a, variant 0b10,
// and 62 random bits in rand_b. Within one millisecond the counter counts up from a random start
// below 2048. When the counter would overflow, or when the system clock steps back, the timestamp
// is carried forward from the previous id instead of read from the clock. So ids from one process
// are strictly increasing, both as text and as bytes, in the order the calls return.
//
// Thread-safe. The random bits come from OpenSSL's RAND_bytes, a CSPRNG that OpenSSL reseeds after
// fork(). They pass through a small per-thread buffer, which a pthread_atfork handler invalidates
// in a forked child, so a parent and its child never share bits. A per-thread Mersenne Twister
// seeded from std::random_device is not used because its output becomes predictable after 624
// values.
std::string NewUuidV7();

// Whether `text` is a UUID of any version in canonical 8-4-4-4-12 hex form, either case.
bool IsUuid(std::string_view text);

// Returns `uuid` in lowercase, the form NewUuidV7 makes and stream ids use. `uuid` should pass
// IsUuid; other characters are lowercased the same way.
std::string LowercaseUuid(std::string_view uuid);

// Returns a new idempotency key for a command sent without one. It is a UUIDv7, so keys generated
// by different API replicas are unique without coordination (62 random bits per millisecond and
// counter value) and sort by generation time. Thread-safe.
std::string NewIdempotencyKey();

inline constexpr std::size_t kMaxIdempotencyKeyLength = 128;

// Whether `key` is 1 to 128 printable ASCII characters (0x21 to 0x7E). Space (0x20) is not allowed
// because the key is also a URL path segment (GET /api/commands/{key}) and a log field, where a
// space is the character most often altered: trimmed, or turned into '+' by form encoders.
bool IsValidIdempotencyKey(std::string_view key);

}  // namespace prism::domain
