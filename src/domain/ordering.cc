#include "domain/ordering.h"

namespace prism::domain {

SequenceVerdict CheckSequence(int64_t cursor, int64_t user_seq) {
  if (user_seq < 1 || user_seq <= cursor) return SequenceVerdict::kAlreadyApplied;
  // Here cursor < user_seq <= INT64_MAX, so cursor + 1 cannot overflow.
  if (user_seq == cursor + 1) return SequenceVerdict::kApply;
  return SequenceVerdict::kTooEarly;
}

}  // namespace prism::domain
