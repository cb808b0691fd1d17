// What a crash leaves behind: one log line naming the step that was running
// on the crashing thread, and a record of it in the data folder, so that the
// restart knows which execution to count the crash against.
//
// Why: a component is native code in the server's process (until components
// get processes of their own), so a null dereference in one kills the
// server. It must at least say where, and recovery must not run the same
// step again forever (Store::recoverUnfinished ends it after N crashes).
#pragma once

#include <string>

namespace plexus::core {

/// Installs handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT that
/// write, async-signal-safely (write(2) of a preformatted buffer: no malloc,
/// no locks), one line to stderr:
///   "... F plexus: crash: SIGSEGV while running step STEP (component.action) of execution ID"
/// and the crash record, then restore the default action and re-raise, so
/// the exit status and the core dump are those of the original signal.
/// Call once, early, from the main thread (`plexus serve`).
void installFatalSignalHandlers();

/// Where the handler also writes "signal=…\nexecution=…\nstep=…\naction=…\n"
/// (DataFolder::crashRecordPath). The file is opened now, so the handler
/// opens nothing. Throws std::runtime_error naming the file when it cannot.
void installCrashRecord(const std::string& path);

/// The step running on the calling thread, for the handler: set by the
/// step invoker just before it calls into a component, cleared after.
/// Fixed-size thread_local buffers (long names are cut), nothing allocated.
class CurrentStep {
 public:
  CurrentStep(const std::string& executionId, const std::string& step, const std::string& component,
              const std::string& action) noexcept;
  ~CurrentStep();
  CurrentStep(const CurrentStep&) = delete;
  CurrentStep& operator=(const CurrentStep&) = delete;
};

/// Gives the calling thread an alternate signal stack while it lives, so a
/// stack overflow (a component recursing without end) still gets its line:
/// the handler cannot run on the stack that overflowed.
class AlternateSignalStack {
 public:
  AlternateSignalStack();
  ~AlternateSignalStack();
  AlternateSignalStack(const AlternateSignalStack&) = delete;
  AlternateSignalStack& operator=(const AlternateSignalStack&) = delete;

 private:
  void* memory_ = nullptr;
};

}  // namespace plexus::core
