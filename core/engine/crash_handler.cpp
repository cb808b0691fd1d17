#include "engine/crash_handler.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace plexus::core {

namespace {

constexpr std::size_t kIdBytes = 64;
constexpr std::size_t kNameBytes = 160;

/// Plain old data on purpose: a thread_local with no constructor or
/// destructor has no lazy initialisation wrapper, so reading it from the
/// signal handler is a plain memory access of an already mapped TLS block
/// (the thread wrote it before calling the component).
struct StepSlot {
  bool active;
  char executionId[kIdBytes];
  char step[kNameBytes];
  char action[kNameBytes];  // component.action
};
thread_local StepSlot tCurrent;

std::atomic<int> gRecordFd{-1};
std::atomic<bool> gCrashing{false};
constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

/// Copies at most size-1 bytes, replacing control characters (a name must
/// not split the log line or the record).
void copyName(char* to, std::size_t size, const std::string& from, std::size_t offset = 0) noexcept {
  std::size_t n = offset;
  for (char c : from) {
    if (n + 1 >= size) break;
    to[n++] = static_cast<unsigned char>(c) < 0x20 ? '?' : c;
  }
  to[n] = '\0';
}

/// A line being built in a fixed buffer, with signal-safe appends only.
struct Line {
  char text[1024];
  std::size_t size = 0;
  void add(const char* s) noexcept {
    while (*s && size < sizeof text - 1) text[size++] = *s++;
  }
  void number(long value, int width) noexcept {
    char digits[24];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value > 0 && n < 20);
    while (n < width && n < 20) digits[n++] = '0';
    while (n > 0 && size < sizeof text - 1) text[size++] = digits[--n];
  }
  void add(char c) noexcept {
    if (size < sizeof text - 1) text[size++] = c;
  }
};

/// The log's own time format (2026-12-02T13:55:00.123Z), from the
/// civil-from-days algorithm: arithmetic only, no gmtime (not signal-safe).
void addTimestamp(Line& line) noexcept {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  long seconds = static_cast<long>(now.tv_sec);
  long days = seconds / 86400;
  long rest = seconds % 86400;
  long z = days + 719468;
  long era = (z >= 0 ? z : z - 146096) / 146097;
  long doe = z - era * 146097;
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long mp = (5 * doy + 2) / 153;
  long day = doy - (153 * mp + 2) / 5 + 1;
  long month = mp < 10 ? mp + 3 : mp - 9;
  long year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  line.number(year, 4);
  line.add('-');
  line.number(month, 2);
  line.add('-');
  line.number(day, 2);
  line.add('T');
  line.number(rest / 3600, 2);
  line.add(':');
  line.number(rest / 60 % 60, 2);
  line.add(':');
  line.number(rest % 60, 2);
  line.add('.');
  line.number(now.tv_nsec / 1000000, 3);
  line.add('Z');
}

const char* signalName(int signal) noexcept {
  switch (signal) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "a fatal signal";
  }
}

void writeAll(int fd, const char* data, std::size_t size, off_t offset, bool positioned) noexcept {
  while (size > 0) {
    ssize_t n = positioned ? ::pwrite(fd, data, size, offset) : ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nothing more can be done from here
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
}

void writeRecord(const char* signal, const StepSlot& slot) noexcept {
  int fd = gRecordFd.load();
  if (fd < 0) return;
  Line record;
  record.add("signal=");
  record.add(signal);
  record.add('\n');
  if (slot.active) {
    record.add("execution=");
    record.add(slot.executionId);
    record.add("\nstep=");
    record.add(slot.step);
    record.add("\naction=");
    record.add(slot.action);
    record.add('\n');
  }
  writeAll(fd, record.text, record.size, 0, true);
  ::ftruncate(fd, static_cast<off_t>(record.size));
}

void onFatalSignal(int signal, siginfo_t* info, void*) {
  // SA_RESETHAND already put the default action back: a fault in here, or
  // the re-raise below, ends the process with this very signal.
  if (!gCrashing.exchange(true)) {  // another thread crashing at once: the first line is the one
    const StepSlot& slot = tCurrent;
    const char* name = signalName(signal);
    Line line;
    addTimestamp(line);
    line.add(" F plexus: crash: ");
    line.add(name);
    if (slot.active) {
      line.add(" while running step ");
      line.add(slot.step);
      line.add(" (");
      line.add(slot.action);
      line.add(") of execution ");
      line.add(slot.executionId);
    } else {
      line.add(" outside any step");
    }
    line.add("; the server stops (see docs/operating.md, crash recovery)\n");
    writeAll(STDERR_FILENO, line.text, line.size, 0, false);
    writeRecord(name, slot);
  }
  // A fault raised by the hardware happens again when the handler returns,
  // now with the default action: the core dump shows the faulting frame. A
  // signal sent by kill(), raise() or abort() does not recur by itself.
  bool fault = info != nullptr && info->si_code > 0 && signal != SIGABRT;
  if (!fault) ::raise(signal);
}

}  // namespace

void installFatalSignalHandlers() {
  struct sigaction action {};
  action.sa_sigaction = onFatalSignal;
  action.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (int signal : kSignals) ::sigaction(signal, &action, nullptr);
}

void installCrashRecord(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open the crash record '" + path + "': " + std::strerror(errno));
  int old = gRecordFd.exchange(fd);
  if (old >= 0) ::close(old);
}

CurrentStep::CurrentStep(const std::string& executionId, const std::string& step, const std::string& component,
                         const std::string& action) noexcept {
  StepSlot& slot = tCurrent;
  slot.active = false;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  copyName(slot.executionId, kIdBytes, executionId);
  copyName(slot.step, kNameBytes, step);
  copyName(slot.action, kNameBytes, component);
  std::size_t used = std::strlen(slot.action);
  if (used + 1 < kNameBytes) {
    slot.action[used] = '.';
    copyName(slot.action, kNameBytes, action, used + 1);
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the fields are whole before the handler may read them
  slot.active = true;
}

CurrentStep::~CurrentStep() { tCurrent.active = false; }

AlternateSignalStack::AlternateSignalStack() {
  constexpr std::size_t kSize = 64 * 1024;
  void* memory = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return;  // no line on a stack overflow of this thread; everything else works
  stack_t stack{};
  stack.ss_sp = memory;
  stack.ss_size = kSize;
  if (::sigaltstack(&stack, nullptr) != 0) {
    ::munmap(memory, kSize);
    return;
  }
  memory_ = memory;
}

AlternateSignalStack::~AlternateSignalStack() {
  if (!memory_) return;
  stack_t disable{};
  disable.ss_flags = SS_DISABLE;
  ::sigaltstack(&disable, nullptr);
  ::munmap(memory_, 64 * 1024);
}

}  // namespace plexus::core
