#include "app/secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <openssl/rand.h>

namespace prism::app {
namespace {

constexpr size_t kSecretBytes = 32;

std::runtime_error FileError(const std::string& path, const char* action) {
  return std::runtime_error("cannot " + std::string(action) + " secret file " + path + ": " +
                            std::strerror(errno));
}

std::string ReadSecret(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError(path, "open");
  std::array<char, kSecretBytes> buffer{};
  ssize_t got = ::read(fd, buffer.data(), buffer.size());
  ::close(fd);
  if (got != static_cast<ssize_t>(kSecretBytes)) {
    throw std::runtime_error("secret file " + path + " is not " + std::to_string(kSecretBytes) +
                             " bytes; delete it to generate a new one");
  }
  return std::string(buffer.data(), buffer.size());
}

}  // namespace

std::string LoadOrCreateSecret(const std::string& data_dir, const std::string& name) {
  std::filesystem::create_directories(data_dir);
  std::string path = data_dir + "/" + name + ".key";
  if (::access(path.c_str(), F_OK) == 0) return ReadSecret(path);

  // Write a complete temporary file, then link it into place: link() fails if another process
  // won the race, and nobody ever sees a half-written secret.
  std::string temporary = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw FileError(temporary, "create");
  std::array<unsigned char, kSecretBytes> secret{};
  bool written = RAND_bytes(secret.data(), static_cast<int>(secret.size())) == 1 &&
                 ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) &&
                 ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    ::unlink(temporary.c_str());
    throw FileError(temporary, "write");
  }
  int linked = ::link(temporary.c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(temporary.c_str());
  if (linked != 0) {
    if (link_errno != EEXIST) {
      errno = link_errno;
      throw FileError(path, "create");
    }
    return ReadSecret(path);
  }
  return std::string(reinterpret_cast<const char*>(secret.data()), secret.size());
}

}  // namespace prism::app
