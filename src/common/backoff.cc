#include "common/backoff.h"

#include <random>

namespace prism {

std::chrono::milliseconds Jittered(std::chrono::milliseconds backoff) {
  if (backoff.count() <= 1) return backoff;
  thread_local std::minstd_rand random(std::random_device{}());
  std::uniform_int_distribution<int64_t> spread(backoff.count() / 2, backoff.count());
  return std::chrono::milliseconds(spread(random));
}

}  // namespace prism
