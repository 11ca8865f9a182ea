// Process-wide shutdown signal handling.
#pragma once

namespace prism::app {

// Blocks SIGINT, SIGTERM and SIGPIPE in the calling thread; call first in main so that every
// thread started later inherits the mask and only WaitForShutdownSignal sees the signals.
void BlockShutdownSignals();

// Waits for SIGINT or SIGTERM and returns its number.
int WaitForShutdownSignal();

}  // namespace prism::app
