#include "app/roles.h"

#include "app/shutdown.h"
#include "common/log.h"

namespace prism::app {
namespace {

// Runs a role that has nothing to do yet: it starts, waits for a shutdown signal and stops.
int RunIdle(const char* role, const Config& config) {
  log::Info(role, "starting", {{"config", DescribeConfig(config)}});
  int signal_number = WaitForShutdownSignal();
  log::Info(role, "stopped", {{"signal", signal_number}});
  return 0;
}

}  // namespace

int RunServe(const Config& config) { return RunIdle("serve", config); }
int RunApi(const Config& config) { return RunIdle("api", config); }
int RunDomain(const Config& config) { return RunIdle("domain", config); }
int RunProjector(const Config& config) { return RunIdle("projector", config); }
int RunStream(const Config& config) { return RunIdle("stream", config); }
int RunCleaner(const Config& config) { return RunIdle("cleaner", config); }
int RunInit(const Config& config) { return RunIdle("init", config); }
int RunRebuild(const Config& config) { return RunIdle("rebuild", config); }

}  // namespace prism::app
