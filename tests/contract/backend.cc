#include "contract/backend.h"

#include <stdexcept>
#include <utility>

namespace prism::contract {

namespace {

struct Registration {
  std::string name;
  BackendFactory factory;
};

// A function-local static, so registrations from other files' static initialisers never run
// before it exists.
std::vector<Registration>& Registry() {
  static std::vector<Registration> registry;
  return registry;
}

}  // namespace

bool RegisterBackend(std::string name, BackendFactory factory) {
  Registry().push_back(Registration{std::move(name), std::move(factory)});
  return true;
}

std::vector<std::string> BackendNames() {
  std::vector<std::string> names;
  for (const Registration& registration : Registry()) names.push_back(registration.name);
  return names;
}

std::unique_ptr<Backend> CreateBackend(const std::string& name) {
  for (const Registration& registration : Registry()) {
    if (registration.name == name) return registration.factory();
  }
  throw std::out_of_range("no storage backend is registered as \"" + name + "\"");
}

}  // namespace prism::contract
