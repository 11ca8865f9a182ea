// Fuzzes POST /api/commands admission (ParseCommandBatch) and the queue-side parser
// (ParseQueuedCommand) with the same bytes.
//
// Besides "no crash, no sanitizer report", it checks one property: every command that admission
// accepts survives the trip through the queue, so SerializeCommand followed by ParseQueuedCommand
// gives the same command back. A worker that rejected what the API accepted would dead-letter a
// command whose client received a 202.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "domain/command.h"

namespace {

using prism::domain::Command;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "command_batch_fuzzer: %s: %s\n", what, detail.c_str());
  std::abort();
}

void CheckQueueRoundTrip(const Command& command) {
  std::string serialized = prism::domain::SerializeCommand(command);
  std::string error;
  auto parsed = prism::domain::ParseQueuedCommand(serialized, &error);
  if (!parsed) Fail("queue parser rejected an admitted command", error + " in " + serialized);
  if (parsed->type != command.type || parsed->entity_type != command.entity_type) {
    Fail("type changed on the queue round trip", serialized);
  }
  if (parsed->data != command.data) Fail("data changed on the queue round trip", serialized);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);

  auto batch = prism::domain::ParseCommandBatch(body);
  if (auto* commands = std::get_if<std::vector<Command>>(&batch)) {
    for (const Command& command : *commands) CheckQueueRoundTrip(command);
  } else if (std::get<prism::domain::AdmissionError>(batch).message.empty()) {
    Fail("rejection without a message", std::string(body));
  }

  std::string error;
  auto queued = prism::domain::ParseQueuedCommand(body, &error);
  if (!queued && error.empty()) Fail("queued command rejected without a reason", std::string(body));
  return 0;
}
