// Secrets an embedded deployment keeps in its data directory.
#pragma once

#include <string>

namespace prism::app {

// Returns the named secret from `<data_dir>/<name>.key`, creating it with 32 random bytes and
// owner-only permissions (0600) on first use. Throws std::runtime_error naming the file when it
// cannot be read or created.
std::string LoadOrCreateSecret(const std::string& data_dir, const std::string& name);

}  // namespace prism::app
