// The data folder: its lock, how the last stop went, a vanished, replaced or
// damaged database, and crash counting at recovery.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "store/data_folder.hpp"
#include "store/sqlite_connection.hpp"
#include "store/sqlite_store.hpp"
#include "temp_dir.hpp"

using namespace plexus::core;
using plexus::core::testing::TempDir;

namespace {

NewExecution execution(const std::string& id) {
  return NewExecution{id, "k", "i", "n", "webhook", plexus::Json::object(), nowMs()};
}

/// Runs `body` with the store open in a child process that then dies
/// without closing it: what a crash leaves behind.
template <typename Body>
void inCrashingProcess(const std::string& directory, Body body) {
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      auto store = SqliteStore::open(directory);
      body(*store);
      store->flush();
      ::_exit(0);  // here, with the store still open: no destructor closes it
    } catch (...) {
      ::_exit(3);
    }
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

}  // namespace

TEST_CASE("a second store on the same data folder is refused while the first is open, naming its pid",
          "[store][data-folder]") {
  TempDir temp;
  auto first = SqliteStore::open(temp.str());
  std::string expected = "data folder " + temp.str() + " is in use by another plexus (pid " +
                         std::to_string(::getpid()) + "); stop it or choose another --data";
  CHECK_THROWS_AS(SqliteStore::open(temp.str()), DataFolderInUse);
  CHECK_THROWS_WITH(SqliteStore::open(temp.str()), expected);
  first.reset();
  CHECK_NOTHROW(SqliteStore::open(temp.str()));  // free again once closed
}

TEST_CASE("the store knows whether the last stop was clean or a crash", "[store][data-folder]") {
  TempDir temp;
  CHECK(SqliteStore::open(temp.str())->lastStop().kind == LastStop::Kind::FirstStart);
  CHECK(SqliteStore::open(temp.str())->lastStop().kind == LastStop::Kind::Clean);
  inCrashingProcess(temp.str(), [](SqliteStore&) {});
  auto store = SqliteStore::open(temp.str());
  CHECK(store->lastStop().kind == LastStop::Kind::Crash);
  CHECK(store->lastStop().describe() == "the last stop was a crash (the process ended without closing the store)");
  CHECK(std::string(store->lastStop().after()) == "after a crash");
}

TEST_CASE("an execution running during 3 crashes is ended failed naming its step; the others are queued again",
          "[store][recovery]") {
  TempDir temp;
  auto crashWhileRunning = [&](bool createFirst) {
    inCrashingProcess(temp.str(), [&](SqliteStore& store) {
      store.recoverUnfinished(RecoveryPolicy{3});
      if (createFirst) {
        store.createExecution(execution("culprit"));
        store.createExecution(execution("bystander"));  // queued only: never counted
      }
      store.markRunning("culprit", nowMs());
      store.recordStepStarted("culprit", StepRecord{"boom", "crash", "null-deref", StepStatus::Running, nowMs(), {}, {}});
    });
  };
  crashWhileRunning(true);
  crashWhileRunning(false);
  {
    auto store = SqliteStore::open(temp.str());
    RecoveryReport report = store->recoverUnfinished(RecoveryPolicy{3});
    REQUIRE(report.requeued.size() == 2);
    CHECK(report.requeued[0].id == "culprit");
    CHECK(report.requeued[0].crashes == 2);
    CHECK(report.requeued[1].crashes == 0);
    CHECK(store->execution("culprit")->status == ExecutionStatus::Queued);
    CHECK(store->execution("culprit")->steps.empty());  // it starts over
  }
  crashWhileRunning(false);  // recovery there counts the 2nd crash; this is the 3rd
  auto store = SqliteStore::open(temp.str());
  RecoveryReport report = store->recoverUnfinished(RecoveryPolicy{3});
  REQUIRE(report.abandoned.size() == 1);
  CHECK(report.abandoned[0].id == "culprit");
  CHECK(report.abandoned[0].error == "the server stopped while step boom ran, 3 times; not retried");
  REQUIRE(report.requeued.size() == 1);
  CHECK(report.requeued[0].id == "bystander");
  auto culprit = store->execution("culprit");
  CHECK(culprit->status == ExecutionStatus::Failed);
  CHECK(culprit->error == report.abandoned[0].error);
  CHECK(culprit->errorStep == "boom");
  CHECK(culprit->crashes == 3);
}

TEST_CASE("a clean stop counts no crash", "[store][recovery]") {
  TempDir temp;
  {
    auto store = SqliteStore::open(temp.str());
    store->createExecution(execution("e"));
    store->markRunning("e", nowMs());
  }
  auto store = SqliteStore::open(temp.str());
  RecoveryReport report = store->recoverUnfinished(RecoveryPolicy{1});
  REQUIRE(report.requeued.size() == 1);
  CHECK(report.requeued[0].crashes == 0);
  CHECK(report.abandoned.empty());
}

TEST_CASE("the crash record names the execution to count, even before its running state was committed",
          "[store][recovery]") {
  TempDir temp;
  inCrashingProcess(temp.str(), [](SqliteStore& store) { store.createExecution(execution("queued-still")); });
  std::ofstream(DataFolder::crashRecordPath(temp.str()))
      << "signal=SIGSEGV\nexecution=queued-still\nstep=boom\naction=crash.null-deref\n";
  auto store = SqliteStore::open(temp.str());
  CHECK(store->lastStop().describe() ==
        "the last stop was a crash (SIGSEGV while running step boom (crash.null-deref) of execution queued-still)");
  RecoveryReport report = store->recoverUnfinished(RecoveryPolicy{1});
  REQUIRE(report.abandoned.size() == 1);
  CHECK(report.abandoned[0].error == "the server stopped while step boom ran, once; not retried");
  CHECK(std::filesystem::file_size(DataFolder::crashRecordPath(temp.str())) == 0);  // used once
}

TEST_CASE("recovering a large backlog is one commit", "[store][recovery]") {
  TempDir temp;
  {
    auto store = SqliteStore::open(temp.str());
    sqlite::Connection db(store->databasePath(), sqlite::Connection::Mode::ReadWriteCreate, 5000);
    db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) "
            "INSERT INTO executions (id, integration_key, instance_id, instance_name, trigger, status, queued_at, "
            "attempts, trigger_results) SELECT 'e' || i, 'k', 'i', 'n', 'webhook', "
            "CASE WHEN i % 2 = 0 THEN 'running' ELSE 'queued' END, i, 1, '{}' FROM n");
  }
  auto store = SqliteStore::open(temp.str());
  std::uint64_t before = store->commitBatches();
  RecoveryReport report = store->recoverUnfinished(RecoveryPolicy{});
  CHECK(report.requeued.size() == 10000);
  CHECK(store->commitBatches() - before == 1);
  CHECK(store->unfinishedExecutions().size() == 10000);
}

TEST_CASE("a data folder whose database vanished is not silently given an empty one", "[store][data-folder]") {
  TempDir temp;
  SqliteStore::open(temp.str())->saveInstance(InstanceRecord{"a", "k", "n", true, plexus::Json::object(), "t", nowMs()});
  std::filesystem::remove(temp.sub("plexus.db"));
  CHECK_THROWS_WITH(SqliteStore::open(temp.str()),
                    Catch::Contains("had a database (id ") && Catch::Contains(temp.sub("plexus.db") + " is missing") &&
                        Catch::Contains("--allow-new-database"));
  SqliteStore::Options allow;
  allow.allowNewDatabase = true;
  CHECK(SqliteStore::open(temp.str(), allow)->instances().empty());
  CHECK_NOTHROW(SqliteStore::open(temp.str()));  // the new one is the folder's database now
}

TEST_CASE("a database replaced by another one is refused", "[store][data-folder]") {
  TempDir first;
  TempDir second;
  SqliteStore::open(first.str()).reset();
  SqliteStore::open(second.str()).reset();
  std::filesystem::copy_file(second.sub("plexus.db"), first.sub("plexus.db"),
                             std::filesystem::copy_options::overwrite_existing);
  CHECK_THROWS_WITH(SqliteStore::open(first.str()), Catch::Contains("is not the one this data folder last used"));
}

TEST_CASE("a page overwritten with random bytes is found at open", "[store][data-folder]") {
  TempDir temp;
  {
    auto store = SqliteStore::open(temp.str());
    for (int i = 0; i < 200; ++i) store->createExecution(execution("e" + std::to_string(i)));
  }
  std::string garbage(4096, '\0');
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 2654435761u) >> 13);
  int fd = ::open(temp.sub("plexus.db").c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, garbage.data(), garbage.size(), 4096 * 3) == 4096);
  ::close(fd);
  CHECK_THROWS_WITH(SqliteStore::open(temp.str()), Catch::Contains("is damaged"));
}

TEST_CASE("a database deleted while open makes the store unavailable, and writes are refused",
          "[store][health]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  store->createExecution(execution("before"));
  CHECK_FALSE(store->unavailableReason());
  std::filesystem::remove(temp.sub("plexus.db"));
  store->checkFiles();
  REQUIRE(store->unavailableReason());
  CHECK_THAT(*store->unavailableReason(), Catch::Contains("was deleted while the server ran"));
  CHECK_THROWS_AS(store->createExecution(execution("after")), StoreUnavailable);
}

TEST_CASE("quick_check at open on 100,000 executions (printed, not asserted)", "[.][store][bench]") {
  TempDir temp;
  {
    auto store = SqliteStore::open(temp.str());
    sqlite::Connection db(store->databasePath(), sqlite::Connection::Mode::ReadWriteCreate, 5000);
    db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
            "INSERT INTO executions (id, integration_key, instance_id, instance_name, trigger, status, queued_at, "
            "attempts, trigger_results) SELECT printf('%024d', i), 'bench-intake', 'instance-0001', 'default', "
            "'webhook', 'succeeded', i, 1, '{\"method\":\"POST\",\"body\":{\"data\":{\"renderId\":' || i || "
            "'},\"contentType\":\"application/json\"},\"headers\":{\"content-type\":\"application/json\",'"
            "'\"user-agent\":\"wrk\"}}' FROM n;"
            "INSERT INTO steps (execution_id, name, component, action, status, started_at, ended_at, result_kind, result) "
            "SELECT e.id, s.name, 'json', 'value', 'succeeded', 1, 2, 'data', '{\"renderId\": 12345}' FROM executions e, "
            "(SELECT 'one' AS name UNION ALL SELECT 'two' UNION ALL SELECT 'three') s;"
            "INSERT INTO logs (execution_id, time, level, step, message) SELECT id, 1, 'info', 'two', "
            "'rendering 12345 for acme' FROM executions;");
  }
  for (bool check : {false, true}) {
    SqliteStore::Options options;
    options.checkIntegrity = check;
    auto store = SqliteStore::open(temp.str(), options);
    WARN((check ? "with" : "without") << " quick_check: open took " << store->openTime().count() << " ms; database "
                                      << std::filesystem::file_size(temp.sub("plexus.db")) / (1024 * 1024) << " MiB");
  }
  {
    sqlite::Connection db(temp.sub("plexus.db"), sqlite::Connection::Mode::ReadWriteCreate, 5000);
    db.exec("UPDATE executions SET status = CASE WHEN seq % 2 = 0 THEN 'running' ELSE 'queued' END");
  }
  auto store = SqliteStore::open(temp.str());
  auto started = std::chrono::steady_clock::now();
  RecoveryReport report = store->recoverUnfinished(RecoveryPolicy{});
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  WARN("recovery of " << report.requeued.size() << " unfinished executions (half running, with 3 steps each): "
                      << took.count() << " ms, one commit");
}
