#include "store/schema.hpp"

#include <algorithm>
#include <string>

namespace plexus::core {

namespace {

// Times are integer milliseconds since the Unix epoch (UTC). Payloads are
// payload_codec JSON text. Statuses are the API's words ("queued"...), so
// the file reads well in the sqlite3 shell.
//
// Executions keep an INTEGER PRIMARY KEY `seq` (insertion order) beside the
// text id, and every index ends with the rowid implicitly. (Version 1 as
// released; version 2 below replaces its execution indexes.)
constexpr const char* kVersion1 = R"sql(
CREATE TABLE instances (
  id              TEXT PRIMARY KEY,
  integration_key TEXT NOT NULL,
  name            TEXT NOT NULL,
  enabled         INTEGER NOT NULL,
  config_vars     TEXT NOT NULL,
  webhook_token   TEXT,               -- NULL when the integration has no webhook
  created_at      INTEGER NOT NULL,
  UNIQUE (integration_key, name)
);
CREATE UNIQUE INDEX instances_by_token ON instances (webhook_token) WHERE webhook_token IS NOT NULL;

CREATE TABLE executions (
  seq             INTEGER PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  integration_key TEXT NOT NULL,
  instance_id     TEXT NOT NULL,      -- no foreign key: executions outlive their instance
  instance_name   TEXT NOT NULL,
  trigger         TEXT NOT NULL,
  status          TEXT NOT NULL,
  queued_at       INTEGER NOT NULL,
  started_at      INTEGER,
  ended_at        INTEGER,
  error           TEXT,
  error_step      TEXT,
  attempts        INTEGER NOT NULL DEFAULT 0,
  trigger_results TEXT NOT NULL       -- last: listings never read its overflow pages
);
CREATE INDEX executions_newest ON executions (queued_at);
CREATE INDEX executions_by_instance ON executions (instance_id, queued_at);
CREATE INDEX executions_by_status ON executions (status, queued_at);

CREATE TABLE steps (
  seq          INTEGER PRIMARY KEY,   -- order the steps started in
  execution_id TEXT NOT NULL,
  name         TEXT NOT NULL,
  component    TEXT NOT NULL,
  action       TEXT NOT NULL,
  status       TEXT NOT NULL,
  started_at   INTEGER NOT NULL,
  ended_at     INTEGER,
  error        TEXT,
  result_kind  TEXT,                  -- NULL (none yet), 'data' or 'status'
  result       TEXT,
  UNIQUE (execution_id, name)
);

CREATE TABLE logs (
  seq          INTEGER PRIMARY KEY,
  execution_id TEXT NOT NULL,
  time         INTEGER NOT NULL,
  level        TEXT NOT NULL,
  step         TEXT,
  message      TEXT NOT NULL
);
CREATE INDEX logs_by_execution ON logs (execution_id);

CREATE TABLE fires (
  instance_id TEXT NOT NULL,
  due_at      INTEGER NOT NULL,
  PRIMARY KEY (instance_id, due_at)
) WITHOUT ROWID;
)sql";

// Version 2: fewer index pages written per execution (the writer thread,
// the one serial resource, spent most of its time writing WAL pages).
// - Listings order by seq alone (insertion order, which queued_at follows),
//   so executions_newest goes; the index on instance_id ends with the rowid,
//   so "newest first for one instance" stays an index walk.
// - executions_by_status changed on every status change (queued, running,
//   ended: two entries moved each time). Only recovery must find rows by
//   status fast, and only unfinished ones: a partial index holds just those
//   (an entry per queued or running execution, dropped when it ends).
//   Listing by status now filters the newest-first walk.
// - fires kept a row per due time forever (10,000 instances every minute:
//   14 million rows a day). Fires happen in due order per instance, so the
//   latest due time is all exactly-once needs: one row per instance.
constexpr const char* kVersion2 = R"sql(
DROP INDEX executions_newest;
DROP INDEX executions_by_status;
DROP INDEX executions_by_instance;
CREATE INDEX executions_by_instance ON executions (instance_id);
CREATE INDEX executions_unfinished ON executions (status) WHERE status IN ('queued', 'running');

CREATE TABLE last_fires (
  instance_id TEXT PRIMARY KEY,
  due_at      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO last_fires (instance_id, due_at) SELECT instance_id, MAX(due_at) FROM fires GROUP BY instance_id;
DROP TABLE fires;
)sql";

// Version 3: crash recovery and the database's identity.
// - execution_crashes counts, per execution, the unclean stops of the
//   server while it ran (and the step that ran at the last one), so that an
//   execution whose step crashes the server is ended failed after N tries
//   instead of crashing every restart. A table of its own, not a column of
//   executions: a column added now would sit after trigger_results, and
//   reading it would walk that payload's overflow pages; and only
//   executions that were running during a crash ever get a row.
// - store_meta holds database_id, a random id made when the database is
//   first opened, also recorded beside it in DATA/plexus.state: a start
//   finds out whether plexus.db is still the database the folder had.
constexpr const char* kVersion3 = R"sql(
CREATE TABLE execution_crashes (
  execution_id TEXT PRIMARY KEY,
  crashes      INTEGER NOT NULL,
  step         TEXT                 -- the step running at the last crash, when known
) WITHOUT ROWID;
CREATE TABLE store_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql";

// Version 4: executions that wait (docs/execution-model.md).
// - wakeups holds, per waiting execution, when it resumes: the engine reads
//   them all at start (one row per waiting execution, dropped when it
//   resumes). The step that waits keeps its pending result in steps, with
//   status 'waiting'.
// - Waiting executions are not in executions_unfinished: recovery finds them
//   through wakeups, and the index stays what queued/running needs.
constexpr const char* kVersion4 = R"sql(
CREATE TABLE wakeups (
  execution_id TEXT PRIMARY KEY,
  wake_at      INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Version 5: webhook idempotency keys (CONTRACT §8). A key is inserted in
// the transaction that creates its execution; expired ones are purged by
// expires_at. WITHOUT ROWID: the lookup is by the whole primary key.
constexpr const char* kVersion5 = R"sql(
CREATE TABLE idempotency_keys (
  instance_id  TEXT NOT NULL,
  key          TEXT NOT NULL,
  body_sha256  TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  expires_at   INTEGER NOT NULL,
  PRIMARY KEY (instance_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
)sql";

// Version 6: flow control (CONTRACT §9). A step inside a loop runs once per
// iteration, so a step's record is keyed by (execution, name, iteration),
// -1 outside loops; `parent` names the branch or loop a step runs in (NULL
// at the top level, whose last step holds the execution's result);
// `attempts` counts a step's tries (retry); `wake_at` is a waiting step's
// own wake-up (iterations of a loop wait each on their own). SQLite cannot change a UNIQUE
// constraint in place: the table is rebuilt, its rows and seq kept.
// `replays` links an execution made by POST /api/executions/ID/replay to
// the one it replays (a table of its own, as execution_crashes: most
// executions have no row).
constexpr const char* kVersion6 = R"sql(
CREATE TABLE steps_v6 (
  seq          INTEGER PRIMARY KEY,   -- order the steps started in
  execution_id TEXT NOT NULL,
  name         TEXT NOT NULL,
  iteration    INTEGER NOT NULL DEFAULT -1,
  parent       TEXT,
  component    TEXT NOT NULL,
  action       TEXT NOT NULL,
  status       TEXT NOT NULL,
  started_at   INTEGER NOT NULL,
  ended_at     INTEGER,
  error        TEXT,
  attempts     INTEGER NOT NULL DEFAULT 1,
  wake_at      INTEGER,               -- a waiting step: when its wait ends
  result_kind  TEXT,                  -- NULL (none yet), 'data' or 'status'
  result       TEXT,
  UNIQUE (execution_id, name, iteration)
);
INSERT INTO steps_v6 (seq, execution_id, name, component, action, status, started_at, ended_at, error,
                      result_kind, result)
  SELECT seq, execution_id, name, component, action, status, started_at, ended_at, error, result_kind, result
  FROM steps;
DROP TABLE steps;
ALTER TABLE steps_v6 RENAME TO steps;
CREATE TABLE replays (
  execution_id TEXT PRIMARY KEY,      -- the new execution
  replay_of    TEXT NOT NULL,         -- the one it replays
  from_step    TEXT                   -- where it starts computing (NULL: from the first step)
) WITHOUT ROWID;
)sql";

/// Migration N takes a database at version N-1 to version N; index 0 is
/// the empty database. Append here, never edit a released entry.
constexpr const char* kMigrations[] = {kVersion1, kVersion2, kVersion3, kVersion4, kVersion5, kVersion6};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "one migration per schema version");

bool hasTable(sqlite::Connection& connection, const char* table) {
  auto query = connection.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  query->bind(1, table);
  return query->step();
}

int currentVersion(sqlite::Connection& connection) {
  if (!hasTable(connection, "schema_version")) {
    if (hasTable(connection, "executions")) {
      throw StoreError("the database '" + connection.path() +
                       "' has Plexus-like tables but no schema_version table; it is not a "
                       "Plexus database this build can use");
    }
    connection.exec("CREATE TABLE schema_version (version INTEGER NOT NULL); "
                    "INSERT INTO schema_version VALUES (0);");
    return 0;
  }
  auto query = connection.prepare("SELECT version FROM schema_version");
  return query->step() ? static_cast<int>(query->integer(0)) : 0;
}

}  // namespace

void migrateSchema(sqlite::Connection& connection, int targetVersion) {
  // IMMEDIATE: two processes opening the same fresh directory do not both
  // try to create the tables.
  connection.exec("BEGIN IMMEDIATE");
  try {
    int version = currentVersion(connection);
    if (version > kSchemaVersion) {
      throw StoreError("the database '" + connection.path() + "' has schema version " +
                       std::to_string(version) + " but this Plexus knows versions up to " +
                       std::to_string(kSchemaVersion) + "; run a newer Plexus, or use another --data directory");
    }
    for (; version < targetVersion; ++version) connection.exec(kMigrations[version]);
    auto update = connection.prepare("UPDATE schema_version SET version = ?1");
    update->bind(1, std::max(version, targetVersion));
    update->run();
    connection.exec("COMMIT");
  } catch (const StoreError&) {
    connection.tryExec("ROLLBACK");
    throw;
  }
}

}  // namespace plexus::core
