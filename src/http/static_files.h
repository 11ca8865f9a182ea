// Serves a built single-page web app (for example Vite's `dist/`) from memory.
#pragma once

#include <string>

#include "http/server.h"

namespace prism::http {

// Returns a fallback handler that serves the files under `root` from memory. All files are read
// (and compressible ones gzip-compressed) when this is called, so later changes on disk are not
// served.
//
// - Content-Type by extension: html, js, mjs, css, svg, png, ico, json, webmanifest, woff2, txt,
//   map; others are application/octet-stream.
// - Files under `assets/` (hashed names) get `Cache-Control: public, max-age=31536000, immutable`;
//   everything else, index.html included, gets `Cache-Control: no-cache` and an ETag, and a
//   matching If-None-Match gets 304.
// - "/" and unknown paths whose last segment has no extension get index.html (client-side
//   routes); other unknown paths, and any path with a ".." segment, get 404.
// When `root` does not exist, a warning is logged and every request gets 404, so a server without
// a built web app still serves its API; without index.html, client-side routes get 404.
Handler MakeStaticFileHandler(std::string root);

}  // namespace prism::http
