// Process-wide shutdown signal handling.
#pragma once

#include <chrono>

namespace prism::app {

// Blocks SIGINT, SIGTERM and SIGPIPE in the calling thread; call first in main so that every
// thread started later inherits the mask and only WaitForShutdownSignal sees the signals.
void BlockShutdownSignals();

// Waits for SIGINT or SIGTERM and returns its number.
int WaitForShutdownSignal();

// Waits up to `timeout` for SIGINT or SIGTERM; returns its number, or 0 when none arrived.
int WaitForShutdownSignalFor(std::chrono::milliseconds timeout);

}  // namespace prism::app
