// The per-user ordering rule: a user's commands take effect exactly in the order the API admitted
// them, whatever order the queue delivers them in.
//
// Contract between the API, the queue, the store and the workers:
//
// 1. Admission numbers commands. The API gives every admitted command a per-user sequence number
//    (user_seq): 1, 2, 3, ... without gaps, in admission order, and a batch in array order. The
//    number is assigned atomically with durably queueing the command (an atomic counter in one
//    process, a sequence row or INCR across processes), so no number is lost or taken twice, and
//    clocks play no part.
//
// 2. The store keeps a cursor per user: the user_seq of the user's last applied command, 0 before
//    the first. A worker applies command n by committing, in one transaction, its events, its
//    outcome (completed or rejected) and the cursor's move from n - 1 to n. A command with no
//    events (rejected, or nothing to change) still moves the cursor.
//
// 3. A worker that leases command n reads the cursor c and calls CheckSequence(c, n):
//      n == c + 1  kApply: load the streams, decide, commit with expected cursor c;
//      n <= c      kAlreadyApplied: a redelivery or a duplicate; acknowledge it and write nothing;
//      n >  c + 1  kTooEarly: an earlier command of the user is not applied yet; release the
//                  message to be delivered again later, and never drop it.
//
// 4. The commit checks the cursor optimistically: it succeeds only if the cursor still equals c
//    (and every stream still has its expected version). When two workers race on command n, or
//    on n and n + 1 with a stale read, exactly one commit succeeds. The loser reads the new cursor
//    and asks CheckSequence again, which now says kAlreadyApplied or kApply against fresh state.
//
// Together these make a user's commands take effect one at a time, each against the state that
// all earlier commands produced, in admission order, regardless of delivery order, duplicates,
// redeliveries after a crash or the number of concurrent workers. Different users never wait for
// each other. Progress needs only that every admitted command is eventually delivered (the queue
// redelivers unacknowledged and released messages).
#pragma once

#include <cstdint>

namespace prism::domain {

enum class SequenceVerdict {
  kApply,           // user_seq == cursor + 1
  kAlreadyApplied,  // user_seq <= cursor: acknowledge without writing
  kTooEarly,        // user_seq > cursor + 1: release and retry later
};

// Compares a command's user_seq with the user's cursor (its last applied user_seq, 0 when none).
// A user_seq below 1 is never valid and counts as already applied, so a corrupt message is
// acknowledged rather than retried forever.
SequenceVerdict CheckSequence(int64_t cursor, int64_t user_seq);

}  // namespace prism::domain
