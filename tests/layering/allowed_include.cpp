// Compiles: the schedule layer may include its own headers and util's.
#include "trigger/schedule/scheduler.hpp"
#include "util/time.hpp"

int layeringProbeAllowed() { return 0; }
