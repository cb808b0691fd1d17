#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>

#include "store/schema.hpp"
#include "store/sqlite_connection.hpp"
#include "store/sqlite_store.hpp"
#include "temp_dir.hpp"

using namespace plexus::core;
using plexus::core::testing::TempDir;

TEST_CASE("a data directory that is a file is refused, naming the path", "[store][errors]") {
  TempDir temp;
  std::string path = temp.sub("not-a-dir");
  std::ofstream(path) << "x";
  CHECK_THROWS_AS(SqliteStore::open(path), StoreError);
  CHECK_THROWS_WITH(SqliteStore::open(path),
                    Catch::Contains("data directory '" + path + "' exists but is not a directory"));
}

TEST_CASE("a data directory under a file cannot be created, and the message says where", "[store][errors]") {
  TempDir temp;
  std::string file = temp.sub("file");
  std::ofstream(file) << "x";
  CHECK_THROWS_WITH(SqliteStore::open(file + "/data"),
                    Catch::Contains("cannot create the data directory '" + file + "/data'"));
}

TEST_CASE("a read-only data directory is refused, naming the path", "[store][errors]") {
  if (::geteuid() == 0) {
    WARN("running as root: permissions do not stop root, skipping");
    return;
  }
  TempDir temp;
  std::filesystem::create_directories(temp.path() / "ro");
  std::filesystem::permissions(temp.path() / "ro", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  CHECK_THROWS_WITH(SqliteStore::open(temp.sub("ro")), Catch::Contains(temp.sub("ro")));
  std::filesystem::permissions(temp.path() / "ro", std::filesystem::perms::owner_all);
}

TEST_CASE("a database file that is not SQLite is refused, naming it", "[store][errors]") {
  TempDir temp;
  std::ofstream(temp.sub("plexus.db")) << std::string(4096, 'z');
  CHECK_THROWS_WITH(SqliteStore::open(temp.str()), Catch::Contains(temp.sub("plexus.db")));
}

TEST_CASE("a database from a newer Plexus is refused with the versions named", "[store][errors]") {
  TempDir temp;
  SqliteStore::open(temp.str()).reset();
  {
    sqlite::Connection connection(temp.sub("plexus.db"), sqlite::Connection::Mode::ReadWriteCreate, 1000);
    connection.exec("UPDATE schema_version SET version = 99");
  }
  CHECK_THROWS_WITH(SqliteStore::open(temp.str()),
                    Catch::Contains("schema version 99") &&
                        Catch::Contains("knows versions up to " + std::to_string(kSchemaVersion)));
}

TEST_CASE("the database is in WAL mode with its schema version recorded", "[store]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  sqlite::Connection connection(temp.sub("plexus.db"), sqlite::Connection::Mode::ReadOnly, 1000);
  CHECK(connection.queryText("PRAGMA journal_mode") == "wal");
  CHECK(connection.queryText("SELECT version FROM schema_version") == std::to_string(kSchemaVersion));
}

TEST_CASE("the listing queries use the indexes, and newest-first listings do not sort", "[store]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  sqlite::Connection connection(temp.sub("plexus.db"), sqlite::Connection::Mode::ReadOnly, 1000);
  auto plan = [&](const char* sql) {
    auto query = connection.prepare(sql);
    std::string all;
    while (query->step()) all += query->text(3) + "; ";
    return all;
  };
  // Newest first is rowid order (seq), read backwards: no sort, no index.
  std::string newest = plan("EXPLAIN QUERY PLAN SELECT id FROM executions ORDER BY seq DESC LIMIT 5");
  CHECK_THAT(newest, Catch::Contains("SCAN executions") && !Catch::Contains("TEMP B-TREE"));
  std::string byInstance =
      plan("EXPLAIN QUERY PLAN SELECT id FROM executions WHERE instance_id = 'x' ORDER BY seq DESC LIMIT 5");
  CHECK_THAT(byInstance, Catch::Contains("executions_by_instance") && !Catch::Contains("TEMP B-TREE"));
  std::string byStatus =
      plan("EXPLAIN QUERY PLAN SELECT id FROM executions WHERE status = 'failed' ORDER BY seq DESC LIMIT 5");
  CHECK_THAT(byStatus, !Catch::Contains("TEMP B-TREE"));  // filters the newest-first walk
  std::string unfinished =
      plan("EXPLAIN QUERY PLAN SELECT id FROM executions WHERE status IN ('queued', 'running') ORDER BY seq");
  CHECK_THAT(unfinished, Catch::Contains("executions_unfinished"));  // then sorts the few unfinished rows
  std::string token = plan("EXPLAIN QUERY PLAN SELECT id FROM instances WHERE webhook_token = 'x'");
  CHECK_THAT(token, Catch::Contains("instances_by_token"));
}

TEST_CASE("a version 1 database is migrated: its fires and executions are kept", "[store][migration]") {
  TempDir temp;
  {
    sqlite::Connection v1(temp.sub("plexus.db"), sqlite::Connection::Mode::ReadWriteCreate, 1000);
    v1.exec("PRAGMA journal_mode = WAL");
    migrateSchema(v1, 1);
    v1.exec("INSERT INTO fires VALUES ('i1', 60000), ('i1', 120000), ('i2', 60000);"
            "INSERT INTO executions (id, integration_key, instance_id, instance_name, trigger, status, queued_at, "
            "trigger_results) VALUES ('e1', 'it', 'i1', 'one', 'schedule', 'queued', 5, '{}'),"
            "('e2', 'it', 'i1', 'one', 'schedule', 'succeeded', 6, '{}');");
  }
  auto store = SqliteStore::open(temp.str());
  CHECK(store->lastFire("i1") == TimePoint(std::chrono::milliseconds(120000)));
  CHECK(store->lastFire("i2") == TimePoint(std::chrono::milliseconds(60000)));
  CHECK_FALSE(store->recordFire("i1", TimePoint(std::chrono::milliseconds(120000))));
  CHECK(store->unfinishedExecutions() == std::vector<std::string>{"e1"});
  ExecutionQuery ofI1;
  ofI1.instanceId = "i1";
  CHECK(store->executions(ofI1).size() == 2);
  sqlite::Connection check(temp.sub("plexus.db"), sqlite::Connection::Mode::ReadOnly, 1000);
  CHECK(check.queryText("SELECT version FROM schema_version") == std::to_string(kSchemaVersion));
}
