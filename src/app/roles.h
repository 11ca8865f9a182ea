// Entry points of the `prism` subcommands. Each returns the process exit status.
#pragma once

#include "common/config.h"

namespace prism::app {

int RunServe(const Config& config);
int RunApi(const Config& config);
int RunDomain(const Config& config);
int RunProjector(const Config& config);
int RunStream(const Config& config);
int RunCleaner(const Config& config);
int RunInit(const Config& config);
int RunRebuild(const Config& config);

}  // namespace prism::app
