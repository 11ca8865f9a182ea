#include "http/gzip.h"

#include <algorithm>
#include <array>
#include <memory>
#include <stdexcept>

#include <zlib.h>

namespace prism::http {
namespace {

constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip header and trailer
constexpr int kMemoryLevel = 8;           // zlib's default
constexpr size_t kFirstInflateChunk = 16 * 1024;

// One deflate stream per thread and level: deflateInit2 allocates about 256 KiB, far more than a
// response, so streams are reset and reused instead.
class Deflater {
 public:
  explicit Deflater(int level) {
    if (deflateInit2(&stream_, level, Z_DEFLATED, kGzipWindowBits, kMemoryLevel,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::runtime_error("gzip: deflateInit2 failed");
    }
  }
  ~Deflater() { deflateEnd(&stream_); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  std::string Compress(std::string_view data) {
    deflateReset(&stream_);
    std::string out(deflateBound(&stream_, data.size()), '\0');
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream_.avail_in = static_cast<uInt>(data.size());
    stream_.next_out = reinterpret_cast<Bytef*>(out.data());
    stream_.avail_out = static_cast<uInt>(out.size());
    if (deflate(&stream_, Z_FINISH) != Z_STREAM_END) {
      throw std::runtime_error("gzip: deflate did not finish within deflateBound");
    }
    out.resize(out.size() - stream_.avail_out);
    return out;
  }

 private:
  z_stream stream_{};
};

class Inflater {
 public:
  Inflater() {
    if (inflateInit2(&stream_, kGzipWindowBits) != Z_OK) {
      throw std::runtime_error("gzip: inflateInit2 failed");
    }
  }
  ~Inflater() { inflateEnd(&stream_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  GunzipStatus Decompress(std::string_view data, size_t max_output_bytes, std::string& out) {
    inflateReset(&stream_);
    out.clear();
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream_.avail_in = static_cast<uInt>(data.size());
    size_t produced = 0;

    while (true) {
      if (produced == out.size()) {
        if (out.size() > max_output_bytes) return GunzipStatus::kTooLarge;
        // One byte over the limit is enough to tell that the body is too large.
        size_t next = std::max(out.size() * 2, kFirstInflateChunk);
        out.resize(std::min(next, max_output_bytes + 1));
      }
      stream_.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      stream_.avail_out = static_cast<uInt>(out.size() - produced);
      int rc = inflate(&stream_, Z_NO_FLUSH);
      produced = out.size() - stream_.avail_out;
      if (produced > max_output_bytes) return GunzipStatus::kTooLarge;

      if (rc == Z_STREAM_END) {
        if (stream_.avail_in == 0) break;
        inflateReset(&stream_);  // another gzip member follows
        continue;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) return GunzipStatus::kInvalid;
      if (stream_.avail_in == 0 && stream_.avail_out != 0) return GunzipStatus::kInvalid;
    }
    out.resize(produced);
    return GunzipStatus::kOk;
  }

 private:
  z_stream stream_{};
};

}  // namespace

std::string GzipCompress(std::string_view data, int level) {
  thread_local std::array<std::unique_ptr<Deflater>, 10> deflaters;
  level = std::clamp(level, 1, 9);
  std::unique_ptr<Deflater>& deflater = deflaters[level];
  if (!deflater) deflater = std::make_unique<Deflater>(level);
  return deflater->Compress(data);
}

GunzipStatus GzipDecompress(std::string_view data, size_t max_output_bytes, std::string& out) {
  if (data.empty()) return GunzipStatus::kInvalid;
  thread_local Inflater inflater;
  return inflater.Decompress(data, max_output_bytes, out);
}

}  // namespace prism::http
