#include "http/static_files.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <boost/beast/http/field.hpp>
#include <boost/url/pct_string_view.hpp>

#include "common/log.h"
#include "http/gzip.h"
#include "http/responses.h"

namespace prism::http {
namespace {

namespace beast_http = boost::beast::http;
namespace fs = std::filesystem;

constexpr std::string_view kLogComponent = "http";
constexpr uintmax_t kMaxFileBytes = 32 * 1024 * 1024;  // larger files are skipped with a warning
constexpr int kStaticGzipLevel = 9;  // compressed once at start, so the smallest output wins
constexpr std::string_view kImmutableCacheControl = "public, max-age=31536000, immutable";
constexpr std::string_view kRevalidateCacheControl = "no-cache";

struct StaticFile {
  std::string body;
  std::string gzip_body;  // empty when compression does not pay
  std::string content_type;
  std::string_view cache_control;
  std::string etag;
};

std::string_view ContentTypeFor(const fs::path& path) {
  static const std::unordered_map<std::string, std::string_view> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
  };
  auto it = kTypes.find(path.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

std::string MakeETag(std::string_view body) {
  char text[48];
  std::snprintf(text, sizeof text, "\"%zx-%zx\"", std::hash<std::string_view>{}(body), body.size());
  return text;
}

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  if (!in && !in.eof()) return std::nullopt;
  return std::move(content).str();
}

StaticFile LoadFile(const fs::path& path, const std::string& url_path, std::string body) {
  StaticFile file;
  file.content_type = ContentTypeFor(path);
  file.cache_control =
      url_path.starts_with("/assets/") ? kImmutableCacheControl : kRevalidateCacheControl;
  file.etag = MakeETag(body);
  if (body.size() >= kMinGzipBytes && IsCompressibleType(file.content_type)) {
    std::string compressed = GzipCompress(body, kStaticGzipLevel);
    if (compressed.size() < body.size()) file.gzip_body = std::move(compressed);
  }
  file.body = std::move(body);
  return file;
}

class StaticFiles {
 public:
  explicit StaticFiles(const std::string& root) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
      log::Warn(kLogComponent, "web app directory not found; static files get 404",
                {{"root", root}});
      return;
    }
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec)) Add(root, it->path());
    }
    if (ec) {
      log::Warn(kLogComponent,
                "failed to list the whole web app directory; some files are not served",
                {{"root", root}, {"error", ec.message()}});
    }
    auto index = files_.find("/index.html");
    index_ = index == files_.end() ? nullptr : &index->second;
    if (!index_) {
      log::Warn(kLogComponent, "no index.html in the web app directory; client-side routes get 404",
                {{"root", root}});
    }
    log::Info(kLogComponent, "static files loaded", {{"root", root}, {"files", files_.size()}});
  }

  Response Serve(const Request& request) const {
    const StaticFile* file = Find(request.target());
    if (!file) return MakeErrorResponse(beast_http::status::not_found, "not found");

    auto if_none_match = request.find(beast_http::field::if_none_match);
    bool cacheable = file->cache_control == kRevalidateCacheControl;
    if (cacheable && if_none_match != request.end() && if_none_match->value() == file->etag) {
      Response response(beast_http::status::not_modified, 11);
      response.set(beast_http::field::etag, file->etag);
      response.set(beast_http::field::cache_control, file->cache_control);
      return response;
    }

    Response response = MakeResponse(beast_http::status::ok, {}, file->content_type);
    response.set(beast_http::field::cache_control, file->cache_control);
    if (cacheable) response.set(beast_http::field::etag, file->etag);
    if (!file->gzip_body.empty() && AcceptsGzip(request)) {
      SetPrecompressedGzip(response, file->gzip_body);
    } else {
      response.body() = file->body;
      if (!file->gzip_body.empty()) AddVary(response, "Accept-Encoding");
    }
    return response;
  }

 private:
  void Add(const std::string& root, const fs::path& path) {
    std::error_code ec;
    uintmax_t size = fs::file_size(path, ec);
    std::string url_path = "/" + fs::relative(path, root, ec).generic_string();
    if (ec || size > kMaxFileBytes) {
      log::Warn(kLogComponent, "skipping a web app file that is unreadable or too large",
                {{"path", path.string()}, {"max_bytes", kMaxFileBytes}});
      return;
    }
    std::optional<std::string> body = ReadFile(path);
    if (!body) {
      log::Warn(kLogComponent, "failed to read a web app file; it is not served",
                {{"path", path.string()}});
      return;
    }
    files_.emplace(url_path, LoadFile(path, url_path, std::move(*body)));
  }

  // Returns the file for a request target, index.html for client-side routes, or nullptr.
  const StaticFile* Find(std::string_view target) const {
    std::string_view encoded = target.substr(0, target.find_first_of("?#"));
    if (!encoded.starts_with('/')) return nullptr;
    auto checked = boost::urls::make_pct_string_view(encoded);
    if (!checked) return nullptr;
    std::string path = checked->decode();
    constexpr std::string_view kForbiddenCharacters("\0\\", 2);  // NUL and backslash
    if (path.find_first_of(kForbiddenCharacters) != std::string::npos) return nullptr;

    std::string_view rest(path);
    std::string_view last_segment;
    while (!rest.empty()) {
      rest.remove_prefix(1);  // the '/'
      size_t slash = rest.find('/');
      last_segment = rest.substr(0, slash);
      if (last_segment == ".." || last_segment == ".") return nullptr;
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    }

    if (auto it = files_.find(path); it != files_.end()) return &it->second;
    bool has_extension = last_segment.find('.') != std::string_view::npos;
    return has_extension ? nullptr : index_;
  }

  std::unordered_map<std::string, StaticFile> files_;
  const StaticFile* index_ = nullptr;
};

}  // namespace

Handler MakeStaticFileHandler(std::string root) {
  auto files = std::make_shared<const StaticFiles>(root);
  return [files](Request& request, const RequestInfo&, Responder respond) {
    respond(files->Serve(request));
  };
}

}  // namespace prism::http
