// Must not compile: the trigger layer sees its own files and the layers below
// it, not trigger/webhook/, a layer above it that lives in its folder (the
// intake depends on the trigger kinds, never the other way round).
#include "trigger/trigger_kind.hpp"
#include "trigger/webhook/idempotency.hpp"
