#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>

#include "store/group_commit.hpp"
#include "temp_dir.hpp"

using namespace plexus::core;
using plexus::core::testing::TempDir;

namespace {

std::unique_ptr<sqlite::Connection> openTable(const std::string& path) {
  auto connection = std::make_unique<sqlite::Connection>(path, sqlite::Connection::Mode::ReadWriteCreate, 1000);
  connection->exec("PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY)");
  return connection;
}

void insert(sqlite::Connection& db, const std::string& key) {
  auto statement = db.prepare("INSERT INTO t (k) VALUES (?1)");
  statement->bind(1, key);
  statement->run();
}

long long rows(const std::string& path) {
  sqlite::Connection reader(path, sqlite::Connection::Mode::ReadOnly, 1000);
  return std::stoll(reader.queryText("SELECT count(*) FROM t"));
}

}  // namespace

TEST_CASE("a multi-statement write that throws is undone alone, the rest of its batch commits",
          "[store][group-commit]") {
  TempDir temp;
  std::string path = temp.sub("t.db");
  auto writer = std::make_unique<GroupCommitWriter>(openTable(path));
  // Catch2 is not thread-safe: each worker records what it saw, and the
  // main thread checks it after the joins.
  struct Refusal {
    std::string what, expected;
  };
  std::vector<std::vector<Refusal>> refusals(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string key = std::to_string(t) + "-" + std::to_string(i);
        bool fail = i % 5 == 0;
        try {
          writer->write([&](sqlite::Connection& db) {
            insert(db, key);
            insert(db, key + "-second");
            if (fail) throw std::runtime_error("refused " + key);  // after changing two rows
          });
        } catch (const std::runtime_error& error) {
          refusals[t].push_back({error.what(), "refused " + key});
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  int failures = 0;
  for (const auto& thread : refusals) {
    for (const Refusal& refusal : thread) {
      CHECK(refusal.what == refusal.expected);  // the caller's own error, unchanged
      ++failures;
    }
  }
  CHECK(failures == 8 * 10);
  CHECK(writer->writesCommitted() == 8 * 40);
  writer.reset();
  CHECK(rows(path) == 8 * 40 * 2);
}

TEST_CASE("a one-statement write that fails leaves the batch's other writes committed", "[store][group-commit]") {
  TempDir temp;
  std::string path = temp.sub("t.db");
  GroupCommitWriter writer(openTable(path));
  writer.write([&](sqlite::Connection& db) { insert(db, "taken"); }, GroupCommitWriter::Undo::Statement);
  std::atomic<int> refused{0};
  std::atomic<int> refusedForAnotherReason{0};  // checked on the main thread: Catch2 is not thread-safe
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string key = i % 2 ? "taken" : std::to_string(t) + "-" + std::to_string(i);
        try {
          writer.write([&](sqlite::Connection& db) { insert(db, key); }, GroupCommitWriter::Undo::Statement);
        } catch (const sqlite::Error& error) {
          ++(error.isUniqueViolation() ? refused : refusedForAnotherReason);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(refusedForAnotherReason == 0);
  CHECK(refused == 8 * 25);
  CHECK(rows(path) == 1 + 8 * 25);
}

TEST_CASE("the writer commits queued writes before it stops", "[store][group-commit]") {
  TempDir temp;
  std::string path = temp.sub("t.db");
  {
    GroupCommitWriter writer(openTable(path));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] { writer.write([&](sqlite::Connection& db) { insert(db, std::to_string(t)); }); });
    }
    for (auto& thread : threads) thread.join();
  }
  CHECK(rows(path) == 4);
}

TEST_CASE("a posted write's completion is called after its commit, or with its error", "[store][group-commit]") {
  TempDir temp;
  std::string path = temp.sub("t.db");
  auto writer = std::make_unique<GroupCommitWriter>(openTable(path));
  std::promise<long long> rowsWhenDone;
  std::promise<std::string> failure;
  writer->post([](sqlite::Connection& db) { insert(db, "a"); }, GroupCommitWriter::Undo::Statement, nullptr,
               [&](std::exception_ptr error) { rowsWhenDone.set_value(error ? -1 : rows(path)); });
  writer->post([](sqlite::Connection& db) { insert(db, "a"); }, GroupCommitWriter::Undo::Statement, nullptr,
               [&](std::exception_ptr error) {
                 try {
                   if (error) std::rethrow_exception(error);
                   failure.set_value("");
                 } catch (const std::exception& e) {
                   failure.set_value(e.what());
                 }
               });
  // A separate reader sees the row: the callback ran after the commit.
  CHECK(rowsWhenDone.get_future().get() == 1);
  CHECK_THAT(failure.get_future().get(), Catch::Contains("UNIQUE"));
}
