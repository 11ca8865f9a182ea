// gzip (RFC 1952) compression and size-limited decompression on zlib.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace prism::http {

// zlib's default level: a good ratio at moderate CPU cost for responses built per request.
inline constexpr int kDefaultGzipLevel = 6;

// Compresses `data` into a gzip member. Reuses a per-thread zlib stream, so it allocates only the
// output. Throws std::runtime_error when zlib fails (out of memory).
std::string GzipCompress(std::string_view data, int level = kDefaultGzipLevel);

enum class GunzipStatus { kOk, kTooLarge, kInvalid };

// Decompresses a gzip body into `out` (replacing its contents), stopping with kTooLarge as soon
// as the output would exceed `max_output_bytes`, so a small "gzip bomb" never inflates in full.
// Concatenated gzip members are accepted; bytes after the last member are kInvalid.
GunzipStatus GzipDecompress(std::string_view data, size_t max_output_bytes, std::string& out);

}  // namespace prism::http
