// Must not compile: the schedule layer is below integration, so
// integration/model.hpp is not on its include path (the back-edge
// scheduler.hpp -> integration/model.hpp of issue 12).
#include "trigger/schedule/scheduler.hpp"
#include "integration/model.hpp"

int layeringProbeForbidden() { return 0; }
