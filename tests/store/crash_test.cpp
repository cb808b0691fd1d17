#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <thread>

#include "store/sqlite_store.hpp"
#include "temp_dir.hpp"

using namespace plexus::core;
using plexus::core::testing::TempDir;

namespace {

/// The child: writes executions from 4 threads forever and, after each
/// createExecution returns, reports the id on `fd` (one write per line:
/// atomic on a pipe). Never returns; the parent kills it.
[[noreturn]] void writeUntilKilled(const std::string& directory, int fd) {
  auto store = SqliteStore::open(directory);
  auto writeForever = [&](int t) {
    for (long i = 0;; ++i) {
      NewExecution execution;
      execution.id = "c" + std::to_string(t) + "-" + std::to_string(i);
      execution.integrationKey = "k";
      execution.instanceId = "i";
      execution.instanceName = "n";
      execution.trigger = "webhook";
      execution.triggerResults = {{"n", i}};
      execution.queuedAt = nowMs();
      store->createExecution(execution);
      std::string line = execution.id + "\n";
      if (::write(fd, line.data(), line.size()) < 0) ::_exit(2);
    }
  };
  std::thread a(writeForever, 1), b(writeForever, 2), c(writeForever, 3);
  writeForever(0);
  ::_exit(0);  // not reached: writeForever loops until the parent kills us
}

}  // namespace

TEST_CASE("every acknowledged execution survives the process being killed", "[store][durability]") {
  TempDir temp;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    writeUntilKilled(temp.str(), fds[1]);
  }
  ::close(fds[1]);

  std::string received;
  char buffer[4096];
  bool killed = false;
  std::size_t lineCount = 0;
  for (;;) {
    ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;  // EOF once the child is gone
    received.append(buffer, static_cast<std::size_t>(n));
    lineCount += static_cast<std::size_t>(std::count(buffer, buffer + n, '\n'));
    if (!killed && lineCount >= 3000) {
      ::kill(child, SIGKILL);  // mid-write, with batches in flight
      killed = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  std::istringstream lines(received);
  std::vector<std::string> acknowledged;
  for (std::string id; std::getline(lines, id);) acknowledged.push_back(id);
  REQUIRE(acknowledged.size() >= 3000);

  auto store = SqliteStore::open(temp.str());
  std::size_t missing = 0;
  for (const auto& id : acknowledged) missing += store->execution(id) ? 0 : 1;
  CHECK(missing == 0);
  INFO(acknowledged.size() << " acknowledged before the kill");
  CHECK(store->unfinishedExecutions().size() >= acknowledged.size());
}
