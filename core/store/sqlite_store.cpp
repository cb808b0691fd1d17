#include "store/sqlite_store.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <system_error>
#include <tuple>

#include "store/data_folder.hpp"
#include "store/group_commit.hpp"
#include "store/reader_pool.hpp"
#include "store/schema.hpp"
#include "store/store_health.hpp"
#include "store/wal_checkpointer.hpp"
#include "util/ids.hpp"

#include <Poco/Logger.h>

namespace plexus::core {

namespace fs = std::filesystem;
using sqlite::Connection;
using sqlite::Statement;

namespace {

constexpr const char* kDatabaseFile = "plexus.db";
/// For writes of one statement: SQLite undoes a failed statement by itself.
constexpr auto kOneStatement = GroupCommitWriter::Undo::Statement;
constexpr const char* kBlobFolder = "blobs";

/// Runs `body`, prefixing any StoreError with the operation and its subject
/// ("store: createExecution 'abc' failed: ...") so the caller's log line
/// says what was being done. A failure that means the store cannot store
/// (damaged, vanished, full) becomes a StoreUnavailable.
template <typename Body>
auto reading(StoreHealth& health, const char* operation, const std::string& subject, Body&& body)
    -> decltype(body()) {
  try {
    return body();
  } catch (const IdempotencyKeyTaken&) {
    throw;  // an answer, not a failure: the caller replays the first execution
  } catch (const StoreError& error) {
    std::string context = std::string("store: ") + operation + " '" + subject + "' failed: ";
    if (std::exception_ptr unavailable = health.classify(std::current_exception())) {
      try {
        std::rethrow_exception(unavailable);
      } catch (const StoreUnavailable& cause) {
        throw StoreUnavailable(context + cause.what());
      }
    }
    throw StoreError(context + error.what());
  }
}

/// As reading(), refusing at once while the database is gone or damaged:
/// SQLite would go on writing to a deleted file, and a restart would lose it.
template <typename Body>
auto writing(StoreHealth& health, const char* operation, const std::string& subject, Body&& body)
    -> decltype(body()) {
  return reading(health, operation, subject, [&] {
    health.requireWritable();
    return body();
  });
}

[[noreturn]] void throwNoExecution(const std::string& id) {
  throw StoreError("there is no execution with id '" + id + "'");
}

// --- opening -----------------------------------------------------------------

void createDirectory(const fs::path& directory, const char* what) {
  std::error_code error;
  if (fs::exists(directory, error) && !fs::is_directory(directory, error)) {
    throw StoreError(std::string("the ") + what + " '" + directory.string() +
                     "' exists but is not a directory; pass --data a directory path");
  }
  fs::create_directories(directory, error);
  if (error) {
    throw StoreError(std::string("cannot create the ") + what + " '" + directory.string() + "': " +
                     error.message() + "; pass --data a directory Plexus may write to");
  }
  if (::access(directory.c_str(), W_OK | X_OK) != 0) {
    throw StoreError(std::string("the ") + what + " '" + directory.string() +
                     "' is not writable; fix its permissions or pass --data another directory");
  }
}

constexpr const char* kDamagedAdvice =
    "Plexus will not use it: stop here, restore the data folder's database from a backup (see "
    "docs/operating.md), or move the file (with its -wal and -shm files) away and start with "
    "--allow-new-database to begin with an empty database; `sqlite3 plexus.db .recover` may save "
    "part of a damaged one";

/// PRAGMA quick_check: every page's structure, without the index-content
/// cross-check of integrity_check (which costs several times more). A page
/// overwritten with garbage fails here instead of in the middle of a run.
void checkIntegrity(Connection& connection) {
  std::vector<std::string> problems;
  try {
    sqlite::Statement check(connection.handle(), "PRAGMA quick_check(5)");
    while (check.step()) problems.push_back(check.text(0));
  } catch (const sqlite::Error& error) {
    problems = {error.sqliteMessage().empty() ? error.what() : error.sqliteMessage()};
  }
  if (problems.size() == 1 && problems[0] == "ok") return;
  std::string found;
  for (const auto& problem : problems) found += (found.empty() ? "" : "; ") + problem;
  throw StoreError("the database '" + connection.path() + "' is damaged (PRAGMA quick_check found: " + found +
                   "). " + kDamagedAdvice);
}

std::unique_ptr<Connection> configureWriteConnection(const std::string& path, const SqliteStore::Options& options) {
  auto connection = std::make_unique<Connection>(path, Connection::Mode::ReadWriteCreate, options.busyTimeoutMs);
  std::string mode = connection->queryText("PRAGMA journal_mode = WAL");
  if (mode != "wal") {
    throw StoreError("cannot switch the database '" + path + "' to WAL mode (it stays in '" + mode +
                     "' mode); is it on a network file system?");
  }
  // NORMAL in WAL mode: commits survive a process crash; FULL: fsync per commit.
  connection->exec(options.fullSync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  // Checkpoints are the WalCheckpointer's (off this connection's thread).
  // The WAL file is trimmed back to 64 MiB when it starts over, if it grew
  // past it. A 32 MiB page cache (filled only as used) keeps the pages the
  // writer touches in memory instead of reading them back from the WAL.
  connection->exec("PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -32768");
  if (options.checkIntegrity) checkIntegrity(*connection);
  migrateSchema(*connection);
  return connection;
}

std::unique_ptr<Connection> openWriteConnection(const std::string& path, const SqliteStore::Options& options) {
  try {
    return configureWriteConnection(path, options);
  } catch (const sqlite::Error& error) {
    int code = error.code() & 0xff;
    if (code != SQLITE_CORRUPT && code != SQLITE_NOTADB) throw;
    throw StoreError("the database '" + path + "' is damaged or is not a SQLite database (SQLite: " +
                     error.what() + "). " + kDamagedAdvice);
  } catch (const StoreError& error) {
    if (std::string(error.what()).find(path) != std::string::npos) throw;  // already names the file
    throw StoreError("cannot use the database '" + path + "': " + error.what() +
                     " (if it is not a Plexus database, move it away or pass --data another directory)");
  }
}

/// The id this database got when it was created (store_meta), made now for
/// a database from before ids were recorded.
std::string databaseIdentity(Connection& db) {
  db.exec("BEGIN IMMEDIATE");
  try {
    std::string id = randomId(16);
    auto insert = db.prepare("INSERT INTO store_meta (key, value) VALUES ('database_id', ?1) ON CONFLICT DO NOTHING");
    insert->bind(1, id);
    insert->run();
    id = db.queryText("SELECT value FROM store_meta WHERE key = 'database_id'");
    db.exec("COMMIT");
    return id;
  } catch (const StoreError&) {
    db.tryExec("ROLLBACK");
    throw;
  }
}

// --- rows → records ----------------------------------------------------------

// Column lists shared by several queries (the statement cache keys on the
// whole SQL text, so each query is one string literal).
#define PLEXUS_INSTANCE_COLUMNS \
  "SELECT id, integration_key, name, enabled, config_vars, webhook_token, created_at FROM instances "
#define PLEXUS_EXECUTION_COLUMNS                                                                  \
  "SELECT id, integration_key, instance_id, instance_name, trigger, status, queued_at, started_at, " \
  "ended_at, error, error_step, attempts FROM executions "

InstanceRecord readInstance(const Statement& row, const BlobDirectory& blobs) {
  InstanceRecord instance;
  instance.id = row.text(0);
  instance.integrationKey = row.text(1);
  instance.name = row.text(2);
  instance.enabled = row.integer(3) != 0;
  instance.configVars = decodePayload(row.text(4), blobs);
  instance.webhookToken = row.text(5);  // NULL reads as ""
  instance.createdAt = row.time(6);
  return instance;
}

ExecutionStatus executionStatusColumn(const Statement& row, int column) {
  std::string text = row.text(column);
  auto status = executionStatusFromString(text);
  if (!status) throw StoreError("the database holds an unknown execution status '" + text + "'");
  return *status;
}

ExecutionRecord readExecution(const Statement& row) {
  ExecutionRecord execution;
  execution.id = row.text(0);
  execution.integrationKey = row.text(1);
  execution.instanceId = row.text(2);
  execution.instanceName = row.text(3);
  execution.trigger = row.text(4);
  execution.status = executionStatusColumn(row, 5);
  execution.queuedAt = row.time(6);
  execution.startedAt = row.optionalTime(7);
  execution.endedAt = row.optionalTime(8);
  execution.error = row.optionalText(9);
  execution.errorStep = row.optionalText(10);
  execution.attempts = static_cast<int>(row.integer(11));
  return execution;
}

/// Columns: name, component, action, status, started_at, ended_at, error,
/// iteration, parent, attempts.
StepRecord readStep(const Statement& row) {
  StepRecord step;
  step.name = row.text(0);
  step.component = row.text(1);
  step.action = row.text(2);
  std::string status = row.text(3);
  auto parsed = stepStatusFromString(status);
  if (!parsed) throw StoreError("the database holds an unknown step status '" + status + "'");
  step.status = *parsed;
  step.startedAt = row.time(4);
  step.endedAt = row.optionalTime(5);
  step.error = row.optionalText(6);
  step.iteration = static_cast<int>(row.integer(7));
  step.parent = row.optionalText(8).value_or("");
  step.attempts = static_cast<int>(row.integer(9));
  return step;
}

plexus::LogLevel logLevelFromString(const std::string& text) {
  for (auto level : {plexus::LogLevel::Debug, plexus::LogLevel::Info, plexus::LogLevel::Warn,
                     plexus::LogLevel::Error}) {
    if (text == plexus::toString(level)) return level;
  }
  return plexus::LogLevel::Info;  // an unknown word from a newer version: still show the line
}

LogRecord readLog(const Statement& row) {
  LogRecord line;
  line.time = row.time(0);
  line.level = logLevelFromString(row.text(1));
  line.step = row.text(2);  // NULL reads as ""
  line.message = row.text(3);
  return line;
}

/// Keeps several reads on one connection in one snapshot (execution() reads
/// the execution, its steps and its logs).
class ReadTransaction {
 public:
  explicit ReadTransaction(Connection& connection) : connection_(connection) {
    connection_.prepare("BEGIN")->run();
  }
  ~ReadTransaction() { connection_.tryExec("COMMIT"); }  // read-only: ending cannot lose anything
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

 private:
  Connection& connection_;
};

}  // namespace

// --- lifetime --------------------------------------------------------------------

std::unique_ptr<SqliteStore> SqliteStore::open(const std::string& dataDirectory) {
  return open(dataDirectory, Options{});
}

namespace {

Poco::Logger& logger() { return Poco::Logger::get("plexus.store"); }

/// A data folder that had a database must not silently get an empty one:
/// that loses every execution and gives every instance a new webhook URL.
void refuseSilentlyNewDatabase(const DataFolder& folder, const std::string& databasePath, bool allowed) {
  if (folder.recordedDatabaseId().empty() || ::access(databasePath.c_str(), F_OK) == 0) return;
  std::string what = "the data folder " + folder.directory() + " had a database (id " +
                     folder.recordedDatabaseId() + ") but " + databasePath + " is missing";
  if (!allowed)
    throw StoreError(what + ". Plexus will not silently start over with an empty one (every execution "
                     "and webhook URL would be gone): restore the file from a backup (see docs/operating.md), "
                     "or start with --allow-new-database to begin with an empty database");
  logger().critical("%s: starting with an EMPTY database, as --allow-new-database asks; every instance "
                    "declared in the integration files gets a new webhook URL", what);
}

void refuseReplacedDatabase(const DataFolder& folder, const std::string& databasePath, const std::string& databaseId,
                            bool allowed) {
  const std::string& recorded = folder.recordedDatabaseId();
  if (recorded.empty() || recorded == databaseId) return;
  std::string what = "the database " + databasePath + " (id " + databaseId +
                     ") is not the one this data folder last used (id " + recorded + "): it was replaced";
  if (!allowed)
    throw StoreError(what + ". If that is what you meant (a database from another data folder), start "
                     "with --allow-new-database; otherwise put this folder's own database or its backup back "
                     "(see docs/operating.md)");
  logger().warning("%s; using it, as --allow-new-database asks", what);
}

}  // namespace

std::unique_ptr<SqliteStore> SqliteStore::open(const std::string& dataDirectory, const Options& options) {
  fs::path directory(dataDirectory);
  createDirectory(directory, "data directory");
  // The lock first: a second process must not touch the database at all.
  auto folder = DataFolder::claim(directory.string());
  createDirectory(directory / kBlobFolder, "blob directory");
  std::string databasePath = (directory / kDatabaseFile).string();
  refuseSilentlyNewDatabase(*folder, databasePath, options.allowNewDatabase);
  auto started = std::chrono::steady_clock::now();
  auto connection = openWriteConnection(databasePath, options);
  auto opened = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::string databaseId = databaseIdentity(*connection);
  refuseReplacedDatabase(*folder, databasePath, databaseId, options.allowNewDatabase);
  folder->markRunning(databaseId);
  auto health = std::make_unique<StoreHealth>(databasePath);
  auto checkpointer = std::make_unique<WalCheckpointer>(databasePath, options.busyTimeoutMs, WalCheckpointer::Options{});
  checkpointer->attach(*connection);
  StoreHealth* watched = health.get();
  auto writer = std::make_unique<GroupCommitWriter>(std::move(connection), [watched](const std::exception_ptr& error) {
    if (error) watched->classify(error); else watched->committed();
  });
  health->startWatching();
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(databasePath), (directory / kBlobFolder).string(),
                                                     options, std::move(checkpointer), std::move(writer)));
  store->folder_ = std::move(folder);
  store->health_ = std::move(health);
  store->openTime_ = opened;
  return store;
}

SqliteStore::SqliteStore(std::string databasePath, std::string blobDirectory, const Options& options,
                         std::unique_ptr<WalCheckpointer> checkpointer, std::unique_ptr<GroupCommitWriter> writer)
    : databasePath_(std::move(databasePath)),
      blobs_(std::move(blobDirectory), options.fullSync),
      readers_(std::make_unique<ReaderPool>(databasePath_, options.busyTimeoutMs, options.maxIdleReaders)),
      checkpointer_(std::move(checkpointer)),
      writer_(std::move(writer)) {
  blobs_.removeStaleTemporaries();
}

SqliteStore::~SqliteStore() {
  // Every write drained and every connection closed before the stop is
  // recorded as clean; a process that dies before this line is a crash.
  // The read-only connections go first: the last connection to close
  // checkpoints the WAL into plexus.db and deletes it (a read-only one
  // cannot), so a cleanly stopped folder's database is one whole file.
  readers_.reset();
  writer_.reset();
  checkpointer_.reset();
  health_.reset();
  if (folder_) folder_->markStopped();
}

void SqliteStore::checkFiles() { health_->checkFiles(); }

LastStop SqliteStore::lastStop() const { return folder_->lastStop(); }

std::optional<std::string> SqliteStore::unavailableReason() const { return health_->problem(); }

std::string SqliteStore::blobDirectory() const { return blobs_.path(); }

std::uint64_t SqliteStore::commitBatches() const { return writer_->batchesCommitted(); }
std::uint64_t SqliteStore::committedWrites() const { return writer_->writesCommitted(); }

// --- instances -------------------------------------------------------------------

void SqliteStore::saveInstance(const InstanceRecord& instance) {
  writing(*health_, "saveInstance", instance.id, [&] {
    std::string configVars = encodePayload(instance.configVars, blobs_);
    try {
      writer_->write([&](Connection& db) {
        auto upsert = db.prepare(
            "INSERT INTO instances (id, integration_key, name, enabled, config_vars, webhook_token, created_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
            "ON CONFLICT (id) DO UPDATE SET integration_key = excluded.integration_key, "
            "name = excluded.name, enabled = excluded.enabled, config_vars = excluded.config_vars, "
            "webhook_token = excluded.webhook_token, created_at = excluded.created_at");
        upsert->bind(1, instance.id);
        upsert->bind(2, instance.integrationKey);
        upsert->bind(3, instance.name);
        upsert->bind(4, instance.enabled);
        upsert->bind(5, configVars);
        if (instance.webhookToken.empty()) upsert->bindNull(6); else upsert->bind(6, instance.webhookToken);
        upsert->bind(7, instance.createdAt);
        upsert->run();
      }, kOneStatement);
    } catch (const sqlite::Error& error) {
      if (!error.isUniqueViolation()) throw;
      if (error.sqliteMessage().find("instances.webhook_token") != std::string::npos) {
        throw StoreError("another instance already has this webhook token");
      }
      throw StoreError("an instance named '" + instance.name + "' already exists for integration '" +
                       instance.integrationKey + "'");
    }
  });
}

std::optional<InstanceRecord> SqliteStore::instance(const std::string& id) {
  return reading(*health_, "instance", id, [&]() -> std::optional<InstanceRecord> {
    auto db = readers_->acquire();
    auto query = db->prepare(PLEXUS_INSTANCE_COLUMNS "WHERE id = ?1");
    query->bind(1, id);
    if (!query->step()) return std::nullopt;
    return readInstance(*query, blobs_);
  });
}

std::optional<InstanceRecord> SqliteStore::instanceByToken(const std::string& token) {
  // The token is a credential: it is not repeated in error messages.
  return reading(*health_, "instanceByToken", "(token)", [&]() -> std::optional<InstanceRecord> {
    if (token.empty()) return std::nullopt;
    auto db = readers_->acquire();
    auto query = db->prepare(PLEXUS_INSTANCE_COLUMNS "WHERE webhook_token = ?1");
    query->bind(1, token);
    if (!query->step()) return std::nullopt;
    return readInstance(*query, blobs_);
  });
}

std::optional<InstanceRecord> SqliteStore::instanceByName(const std::string& integrationKey,
                                                          const std::string& name) {
  return reading(*health_, "instanceByName", integrationKey + "/" + name, [&]() -> std::optional<InstanceRecord> {
    auto db = readers_->acquire();
    auto query = db->prepare(PLEXUS_INSTANCE_COLUMNS "WHERE integration_key = ?1 AND name = ?2");
    query->bind(1, integrationKey);
    query->bind(2, name);
    if (!query->step()) return std::nullopt;
    return readInstance(*query, blobs_);
  });
}

std::vector<InstanceRecord> SqliteStore::instances() {
  return reading(*health_, "instances", "all", [&] {
    auto db = readers_->acquire();
    auto query = db->prepare(PLEXUS_INSTANCE_COLUMNS "ORDER BY integration_key, name");
    std::vector<InstanceRecord> all;
    while (query->step()) all.push_back(readInstance(*query, blobs_));
    return all;
  });
}

bool SqliteStore::deleteInstance(const std::string& id) {
  return writing(*health_, "deleteInstance", id, [&] {
    bool deleted = false;
    writer_->write([&](Connection& db) {
      auto fires = db.prepare("DELETE FROM last_fires WHERE instance_id = ?1");
      fires->bind(1, id);
      fires->run();
      auto instance = db.prepare("DELETE FROM instances WHERE id = ?1");
      instance->bind(1, id);
      instance->run();
      deleted = db.changes() > 0;
    });
    return deleted;
  });
}

// --- executions: writes ----------------------------------------------------------

namespace {

/// The execution no longer waits for a wake-up (it resumed, started, ended or is reset).
void dropWakeup(Connection& db, const std::string& executionId) {
  auto wakeup = db.prepare("DELETE FROM wakeups WHERE execution_id = ?1");
  wakeup->bind(1, executionId);
  wakeup->run();
}

/// The execution starts running at `startedAt`: one more attempt.
void setRunning(Connection& db, const std::string& executionId, TimePoint startedAt) {
  auto update = db.prepare(
      "UPDATE executions SET status = 'running', started_at = ?2, attempts = attempts + 1 WHERE id = ?1");
  update->bind(1, executionId);
  update->bind(2, startedAt);
  update->run();
  if (db.changes() == 0) throwNoExecution(executionId);
}

void insertExecution(Connection& db, const NewExecution& execution, const std::string& triggerResults) {
  auto insert = db.prepare(
      "INSERT INTO executions (id, integration_key, instance_id, instance_name, trigger, status, "
      "queued_at, attempts, trigger_results) VALUES (?1, ?2, ?3, ?4, ?5, ?8, ?6, 0, ?7)");
  insert->bind(8, execution.startsAt ? "waiting" : "queued");
  insert->bind(1, execution.id);
  insert->bind(2, execution.integrationKey);
  insert->bind(3, execution.instanceId);
  insert->bind(4, execution.instanceName);
  insert->bind(5, execution.trigger);
  insert->bind(6, execution.queuedAt);
  insert->bind(7, triggerResults);
  insert->run();
}

/// True when `dueAt` is after the instance's last recorded fire (and is now
/// the last). Fires come in due order per instance: a due time at or before
/// the last recorded one has fired already.
bool recordFireIfNew(Connection& db, const std::string& instanceId, TimePoint dueAt) {
  auto insert = db.prepare(
      "INSERT INTO last_fires (instance_id, due_at) VALUES (?1, ?2) ON CONFLICT (instance_id) "
      "DO UPDATE SET due_at = excluded.due_at WHERE excluded.due_at > last_fires.due_at");
  insert->bind(1, instanceId);
  insert->bind(2, dueAt);
  insert->run();
  return db.changes() == 1;
}

}  // namespace

/// Records `key` unless an unexpired record of it exists (then throws
/// IdempotencyKeyTaken); an expired one is replaced.
void insertIdempotencyKey(Connection& db, const IdempotencyKeyRecord& key, TimePoint now) {
  auto insert = db.prepare(
      "INSERT INTO idempotency_keys (instance_id, key, body_sha256, execution_id, expires_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (instance_id, key) DO UPDATE SET "
      "body_sha256 = excluded.body_sha256, execution_id = excluded.execution_id, expires_at = excluded.expires_at "
      "WHERE idempotency_keys.expires_at <= ?6");
  insert->bind(1, key.instanceId);
  insert->bind(2, key.key);
  insert->bind(3, key.bodySha256);
  insert->bind(4, key.executionId);
  insert->bind(5, key.expiresAt);
  insert->bind(6, now);
  insert->run();
  if (db.changes() != 1)
    throw IdempotencyKeyTaken("store: idempotency key already recorded for instance " + key.instanceId);
}

void SqliteStore::createExecution(const NewExecution& execution) {
  writing(*health_, "createExecution", execution.id, [&] {
    std::string triggerResults = encodePayload(execution.triggerResults, blobs_);  // on the caller's thread
    if (!execution.idempotencyKey) {
      writer_->write([&](Connection& db) { insertExecution(db, execution, triggerResults); }, kOneStatement);
      return;
    }
    // Both rows or neither: a savepoint undoes the execution if the key is taken.
    writer_->write(
        [&](Connection& db) {
          insertExecution(db, execution, triggerResults);
          insertIdempotencyKey(db, *execution.idempotencyKey, execution.idempotencyKey->admittedAt);
        },
        GroupCommitWriter::Undo::Savepoint);
  });
}

std::optional<IdempotencyKeyRecord> SqliteStore::idempotencyKey(const std::string& instanceId,
                                                                const std::string& key, TimePoint now) {
  // The key is the caller's text: not repeated in error messages.
  return reading(*health_, "idempotencyKey", instanceId, [&]() -> std::optional<IdempotencyKeyRecord> {
    auto db = readers_->acquire();
    auto query = db->prepare(
        "SELECT body_sha256, execution_id, expires_at FROM idempotency_keys "
        "WHERE instance_id = ?1 AND key = ?2 AND expires_at > ?3");
    query->bind(1, instanceId);
    query->bind(2, key);
    query->bind(3, now);
    if (!query->step()) return std::nullopt;
    return IdempotencyKeyRecord{instanceId, key, query->text(0), query->text(1), query->time(2)};
  });
}

std::size_t SqliteStore::purgeIdempotencyKeys(TimePoint now, std::size_t limit) {
  std::size_t purged = 0;
  writing(*health_, "purgeIdempotencyKeys", "", [&] {
    writer_->write(
        [&](Connection& db) {
          auto purge = db.prepare(
              "DELETE FROM idempotency_keys WHERE (instance_id, key) IN (SELECT instance_id, key FROM "
              "idempotency_keys WHERE expires_at <= ?1 LIMIT ?2)");
          purge->bind(1, now);
          purge->bind(2, static_cast<std::int64_t>(limit));
          purge->run();
          purged = static_cast<std::size_t>(db.changes());
        },
        kOneStatement);
  });
  return purged;
}

void SqliteStore::markRunning(const std::string& executionId, TimePoint startedAt) {
  writing(*health_, "markRunning", executionId, [&] {
    postProgress(executionId, [executionId, startedAt](Connection& db) { setRunning(db, executionId, startedAt); });
  });
}

namespace {

/// One statement for both step calls: a step run again (a retry, a loop)
/// replaces its earlier record. `resultKind` is null while it runs.
void upsertStep(Connection& db, const std::string& executionId, const StepRecord& step,
                const char* resultKind, const std::string* result) {
  auto upsert = db.prepare(
      "INSERT INTO steps (execution_id, name, iteration, parent, component, action, status, started_at, ended_at, "
      "error, attempts, wake_at, result_kind, result) VALUES (?1, ?2, ?11, ?12, ?3, ?4, ?5, ?6, ?7, ?8, ?13, ?14, ?9, ?10) "
      "ON CONFLICT (execution_id, name, iteration) DO UPDATE SET component = excluded.component, "
      "action = excluded.action, status = excluded.status, started_at = excluded.started_at, "
      "ended_at = excluded.ended_at, error = excluded.error, attempts = excluded.attempts, wake_at = excluded.wake_at, "
      "result_kind = excluded.result_kind, result = excluded.result");
  upsert->bind(1, executionId);
  upsert->bind(2, step.name);
  upsert->bind(3, step.component);
  upsert->bind(4, step.action);
  upsert->bind(5, toString(step.status));
  upsert->bind(6, step.startedAt);
  upsert->bind(7, step.endedAt);
  upsert->bind(8, step.error);
  if (resultKind) upsert->bind(9, resultKind); else upsert->bindNull(9);
  if (result) upsert->bind(10, *result); else upsert->bindNull(10);
  upsert->bind(11, static_cast<std::int64_t>(step.iteration));
  if (step.parent.empty()) upsert->bindNull(12); else upsert->bind(12, step.parent);
  upsert->bind(13, static_cast<std::int64_t>(step.attempts));
  upsert->bind(14, step.wakeAt);
  upsert->run();
}

}  // namespace

void SqliteStore::recordStepStarted(const std::string& executionId, const StepRecord& step) {
  writing(*health_, "recordStepStarted", executionId + "/" + step.name, [&] {
    postProgress(executionId, [executionId, step](Connection& db) { upsertStep(db, executionId, step, nullptr, nullptr); });
  });
}

void SqliteStore::recordStepFinished(const std::string& executionId, const StepRecord& step,
                                     const std::optional<StoredResult>& result) {
  writing(*health_, "recordStepFinished", executionId + "/" + step.name, [&] {
    // Encoded here, on the caller's thread: large binaries are written to
    // blob files before the row that names them is queued.
    std::string encoded = result ? encodeResult(*result) : std::string();
    const char* kind = !result ? nullptr : result->isStatus ? "status" : "data";
    bool hasResult = result.has_value();
    postProgress(executionId, [executionId, step, kind, hasResult, encoded = std::move(encoded)](Connection& db) {
      upsertStep(db, executionId, step, kind, hasResult ? &encoded : nullptr);
    });
  });
}

void SqliteStore::appendLog(const std::string& executionId, const LogRecord& line) {
  writing(*health_, "appendLog", executionId, [&] {
    postProgress(executionId, [executionId, line](Connection& db) {
      auto insert = db.prepare(
          "INSERT INTO logs (execution_id, time, level, step, message) VALUES (?1, ?2, ?3, ?4, ?5)");
      insert->bind(1, executionId);
      insert->bind(2, line.time);
      insert->bind(3, plexus::toString(line.level));
      if (line.step.empty()) insert->bindNull(4); else insert->bind(4, line.step);
      insert->bind(5, line.message);
      insert->run();
    });
  });
}

void SqliteStore::postProgress(const std::string& executionId, std::function<void(Connection&)> work) {
  auto remember = [this, executionId](const std::string& message) {
    std::lock_guard<std::mutex> lock(failuresMutex_);
    progressFailures_.emplace(executionId, message);  // The first failure is the one to tell.
  };
  // A failing statement is remembered at once (a finishExecution later in
  // the same batch must see it); a failed commit through onFailure.
  writer_->post([work = std::move(work), remember](Connection& db) {
    try {
      work(db);
    } catch (const std::exception& error) {
      remember(error.what());
      throw;  // The writer undoes the statement and logs it.
    }
  }, kOneStatement, remember);
}

std::optional<std::string> SqliteStore::takeProgressFailure(const std::string& executionId) {
  std::lock_guard<std::mutex> lock(failuresMutex_);
  auto it = progressFailures_.find(executionId);
  if (it == progressFailures_.end()) return std::nullopt;
  std::string message = std::move(it->second);
  progressFailures_.erase(it);
  return message;
}

void SqliteStore::createReplay(const std::string& originalId, const std::string& newId,
                                const std::optional<std::string>& fromStep, const std::vector<std::string>& keep,
                                TimePoint queuedAt) {
  const std::string names = plexus::Json(keep).dump();  // one parameter, read with json_each
  writing(*health_, "createReplay", newId, [&] {
    writer_->write(
        [&](Connection& db) {
          auto copy = db.prepare(
              "INSERT INTO executions (id, integration_key, instance_id, instance_name, trigger, status, queued_at, "
              "trigger_results) SELECT ?2, integration_key, instance_id, instance_name, trigger, 'queued', ?3, "
              "trigger_results FROM executions WHERE id = ?1");
          copy->bind(1, originalId);
          copy->bind(2, newId);
          copy->bind(3, queuedAt);
          copy->run();
          if (db.changes() == 0) throwNoExecution(originalId);
          auto link = db.prepare("INSERT INTO replays (execution_id, replay_of, from_step) VALUES (?1, ?2, ?3)");
          link->bind(1, newId);
          link->bind(2, originalId);
          link->bind(3, fromStep);
          link->run();
          if (keep.empty()) return;
          // By name, not by order: a step run again after a restart has a
          // later seq than the steps inside it that were recorded before.
          auto steps = db.prepare(
              "INSERT INTO steps (execution_id, name, iteration, parent, component, action, status, started_at, "
              "ended_at, error, attempts, result_kind, result) "
              "SELECT ?2, name, iteration, parent, component, action, status, started_at, ended_at, error, attempts, "
              "result_kind, result FROM steps WHERE execution_id = ?1 AND status IN ('succeeded', 'failed') AND "
              "name IN (SELECT value FROM json_each(?3)) ORDER BY seq");
          steps->bind(1, originalId);
          steps->bind(2, newId);
          steps->bind(3, names);
          steps->run();
        },
        GroupCommitWriter::Undo::Savepoint);
  });
}

void SqliteStore::flush() {
  writing(*health_, "flush", "", [&] { writer_->write([](Connection&) {}, kOneStatement); });
}

void SqliteStore::applyFinish(Connection& db, const std::string& executionId, ExecutionStatus status,
                              TimePoint endedAt, const std::optional<std::string>& error,
                              const std::optional<std::string>& errorStep) {
  // On the writer thread, after all the execution's queued progress was
  // applied: if any of it failed, the execution must not look whole. It
  // stays unfinished and runs again after a restart.
  if (auto failure = takeProgressFailure(executionId))
    throw StoreError("part of its progress could not be recorded (" + *failure +
                     "); it stays unfinished and runs again after a restart");
  auto update = db.prepare(
      "UPDATE executions SET status = ?2, ended_at = ?3, error = ?4, error_step = ?5 WHERE id = ?1");
  update->bind(1, executionId);
  update->bind(2, toString(status));
  update->bind(3, endedAt);
  update->bind(4, error);
  update->bind(5, errorStep);
  update->run();
  if (db.changes() == 0) throwNoExecution(executionId);
  if (status != ExecutionStatus::Succeeded) {
    // A waiting execution can be cancelled or time out; a succeeding one
    // has resumed, which dropped its wake-up already.
    dropWakeup(db, executionId);
  }
}

void SqliteStore::finishExecution(const std::string& executionId, ExecutionStatus status, TimePoint endedAt,
                                  const std::optional<std::string>& error,
                                  const std::optional<std::string>& errorStep) {
  writing(*health_, "finishExecution", executionId, [&] {
    writer_->write([&](Connection& db) { applyFinish(db, executionId, status, endedAt, error, errorStep); },
                   kOneStatement);
  });
}

void SqliteStore::finishExecutionLater(const std::string& executionId, ExecutionStatus status, TimePoint endedAt,
                                       const std::optional<std::string>& error,
                                       const std::optional<std::string>& errorStep, Done whenDone) {
  writing(*health_, "finishExecution", executionId, [&] {
    writer_->post(
        [this, executionId, status, endedAt, error, errorStep](Connection& db) {
          applyFinish(db, executionId, status, endedAt, error, errorStep);
        },
        kOneStatement, nullptr,
        [executionId, whenDone = std::move(whenDone)](std::exception_ptr failure) {
          if (!failure) return whenDone(nullptr);
          try {  // name the operation, as the waited calls do
            std::rethrow_exception(failure);
          } catch (const std::exception& error) {
            whenDone(std::make_exception_ptr(
                StoreError("store: finishExecution '" + executionId + "' failed: " + error.what())));
          } catch (...) {
            whenDone(failure);  // not a std::exception: passed on as it is
          }
        });
  });
}

void SqliteStore::suspendExecutionLater(const std::string& executionId, const StepRecord& step,
                                        const std::optional<StoredResult>& result, TimePoint wakeAt,
                                        Done whenDone) {
  writing(*health_, "suspendExecution", executionId + "/" + step.name, [&] {
    std::string encoded = result ? encodeResult(*result) : std::string();  // on the caller's thread
    const char* kind = !result ? nullptr : result->isStatus ? "status" : "data";
    bool hasResult = result.has_value();
    writer_->post(
        [this, executionId, step, kind, hasResult, encoded = std::move(encoded), wakeAt](Connection& db) {
          if (auto failure = takeProgressFailure(executionId))
            throw StoreError("part of its progress could not be recorded (" + *failure + ")");
          upsertStep(db, executionId, step, kind, hasResult ? &encoded : nullptr);
          auto update = db.prepare("UPDATE executions SET status = 'waiting' WHERE id = ?1");
          update->bind(1, executionId);
          update->run();
          if (db.changes() == 0) throwNoExecution(executionId);
          auto wakeup = db.prepare(
              "INSERT INTO wakeups (execution_id, wake_at) VALUES (?1, ?2) "
              "ON CONFLICT (execution_id) DO UPDATE SET wake_at = excluded.wake_at");
          wakeup->bind(1, executionId);
          wakeup->bind(2, wakeAt);
          wakeup->run();
        },
        kOneStatement, nullptr,
        [executionId, whenDone = std::move(whenDone)](std::exception_ptr failure) {
          if (!failure) return whenDone(nullptr);
          try {
            std::rethrow_exception(failure);
          } catch (const std::exception& error) {
            whenDone(std::make_exception_ptr(
                StoreError("store: suspendExecution '" + executionId + "' failed: " + error.what())));
          } catch (...) {
            whenDone(failure);
          }
        });
  });
}

void SqliteStore::resumeExecution(const std::string& executionId) {
  writing(*health_, "resumeExecution", executionId, [&] {
    postProgress(executionId, [executionId](Connection& db) {
      auto update = db.prepare("UPDATE executions SET status = 'running' WHERE id = ?1");
      update->bind(1, executionId);
      update->run();
      if (db.changes() == 0) throwNoExecution(executionId);
      dropWakeup(db, executionId);
    });
  });
}

void SqliteStore::startWhenDue(const std::string& executionId, TimePoint startedAt) {
  writing(*health_, "startWhenDue", executionId, [&] {
    postProgress(executionId, [executionId, startedAt](Connection& db) {
      setRunning(db, executionId, startedAt);
      dropWakeup(db, executionId);
    });
  });
}

void SqliteStore::resetForRetry(const std::string& executionId) {
  writing(*health_, "resetForRetry", executionId, [&] {
    writer_->write([&](Connection& db) {
      auto steps = db.prepare("DELETE FROM steps WHERE execution_id = ?1");  // results go with them
      steps->bind(1, executionId);
      steps->run();
      dropWakeup(db, executionId);
      // started_at goes too: a queued execution has not started; attempts
      // stays, and markRunning counts the next start.
      auto update = db.prepare(
          "UPDATE executions SET status = 'queued', started_at = NULL, ended_at = NULL, error = NULL, "
          "error_step = NULL WHERE id = ?1");
      update->bind(1, executionId);
      update->run();
      if (db.changes() == 0) throwNoExecution(executionId);
    });
  });
}

// --- executions: reads -----------------------------------------------------------

std::optional<ExecutionRecord> SqliteStore::execution(const std::string& id) {
  return reading(*health_, "execution", id, [&]() -> std::optional<ExecutionRecord> {
    auto db = readers_->acquire();
    ReadTransaction snapshot(*db);
    ExecutionRecord execution;
    {
      auto query = db->prepare(PLEXUS_EXECUTION_COLUMNS "WHERE id = ?1");
      query->bind(1, id);
      if (!query->step()) return std::nullopt;
      execution = readExecution(*query);
    }
    {
      auto steps = db->prepare(
          "SELECT name, component, action, status, started_at, ended_at, error, iteration, parent, attempts "
          "FROM steps WHERE execution_id = ?1 ORDER BY seq");
      steps->bind(1, id);
      while (steps->step()) execution.steps.push_back(readStep(*steps));
    }
    {
      auto crashes = db->prepare("SELECT crashes FROM execution_crashes WHERE execution_id = ?1");
      crashes->bind(1, id);
      if (crashes->step()) execution.crashes = static_cast<int>(crashes->integer(0));
    }
    {
      auto replay = db->prepare("SELECT replay_of FROM replays WHERE execution_id = ?1");
      replay->bind(1, id);
      if (replay->step()) execution.replayOf = replay->text(0);
    }
    {
      auto logs = db->prepare("SELECT time, level, step, message FROM logs WHERE execution_id = ?1 ORDER BY seq");
      logs->bind(1, id);
      while (logs->step()) execution.logs.push_back(readLog(*logs));
    }
    return execution;
  });
}

std::vector<ExecutionRecord> SqliteStore::executions(const ExecutionQuery& query) {
  std::string subject = query.instanceId.value_or("any instance") + ", " +
                        (query.status ? toString(*query.status) : "any status");
  return reading(*health_, "executions", subject, [&] {
    auto db = readers_->acquire();
    // One literal per filter combination: each is prepared once per connection.
    const char* sql =
        query.instanceId && query.status
            ? PLEXUS_EXECUTION_COLUMNS "WHERE instance_id = ?2 AND status = ?3 ORDER BY seq DESC LIMIT ?1"
        : query.instanceId ? PLEXUS_EXECUTION_COLUMNS "WHERE instance_id = ?2 ORDER BY seq DESC LIMIT ?1"
        : query.status     ? PLEXUS_EXECUTION_COLUMNS "WHERE status = ?3 ORDER BY seq DESC LIMIT ?1"
                           : PLEXUS_EXECUTION_COLUMNS "ORDER BY seq DESC LIMIT ?1";
    auto rows = db->prepare(sql);
    rows->bind(1, std::max(query.limit, 0));  // SQLite reads a negative LIMIT as "no limit"
    if (query.instanceId) rows->bind(2, *query.instanceId);
    if (query.status) rows->bind(3, toString(*query.status));
    std::vector<ExecutionRecord> found;
    while (rows->step()) found.push_back(readExecution(*rows));
    return found;
  });
}

std::optional<NewExecution> SqliteStore::executionToRun(const std::string& executionId) {
  return reading(*health_, "executionToRun", executionId, [&]() -> std::optional<NewExecution> {
    NewExecution execution;
    std::string triggerResults;
    {
      auto db = readers_->acquire();
      auto query = db->prepare(
          "SELECT integration_key, instance_id, instance_name, trigger, queued_at, status, started_at, "
          "trigger_results FROM executions WHERE id = ?1");
      query->bind(1, executionId);
      if (!query->step()) return std::nullopt;
      execution.id = executionId;
      execution.integrationKey = query->text(0);
      execution.instanceId = query->text(1);
      execution.instanceName = query->text(2);
      execution.trigger = query->text(3);
      execution.queuedAt = query->time(4);
      std::string status = query->text(5);
      auto parsed = executionStatusFromString(status);
      if (!parsed) throw StoreError("the database holds an unknown execution status '" + status + "'");
      execution.status = *parsed;
      execution.startedAt = query->optionalTime(6);
      triggerResults = query->text(7);
    }
    execution.triggerResults = decodePayload(triggerResults, blobs_);  // may read blob files
    return execution;
  });
}

std::optional<StoredResult> SqliteStore::stepResult(const std::string& executionId, const std::string& stepName,
                                                    int iteration) {
  return reading(*health_, "stepResult", executionId + "/" + stepName, [&]() -> std::optional<StoredResult> {
    std::string kind;
    std::string text;
    {
      auto db = readers_->acquire();
      auto query = db->prepare(
          "SELECT result_kind, result FROM steps WHERE execution_id = ?1 AND name = ?2 AND iteration = ?3");
      query->bind(1, executionId);
      query->bind(2, stepName);
      query->bind(3, static_cast<std::int64_t>(iteration));
      if (!query->step() || query->isNull(0)) return std::nullopt;
      kind = query->text(0);
      text = query->text(1);
    }
    return decodeResult(kind, text);
  });
}

std::vector<std::pair<int, std::optional<StoredResult>>> SqliteStore::stepIterations(const std::string& executionId,
                                                                                     const std::string& stepName) {
  return reading(*health_, "stepIterations", executionId + "/" + stepName, [&] {
    std::vector<std::tuple<int, std::optional<std::string>, std::string>> rows;
    {
      auto db = readers_->acquire();
      auto query = db->prepare(
          "SELECT iteration, result_kind, result FROM steps WHERE execution_id = ?1 AND name = ?2 "
          "ORDER BY iteration");
      query->bind(1, executionId);
      query->bind(2, stepName);
      while (query->step())
        rows.emplace_back(static_cast<int>(query->integer(0)), query->optionalText(1),
                          query->isNull(2) ? std::string() : query->text(2));
    }
    std::vector<std::pair<int, std::optional<StoredResult>>> out;
    for (auto& [iteration, kind, text] : rows)
      out.emplace_back(iteration, kind ? std::optional<StoredResult>(decodeResult(*kind, text)) : std::nullopt);
    return out;
  });
}

std::optional<StoredResult> SqliteStore::finalResult(const std::string& executionId) {
  return reading(*health_, "finalResult", executionId, [&]() -> std::optional<StoredResult> {
    std::string kind;
    std::string text;
    {
      auto db = readers_->acquire();
      auto query = db->prepare(
          "SELECT result_kind, result, status FROM steps WHERE execution_id = ?1 AND parent IS NULL "
          "ORDER BY seq DESC LIMIT 1");
      query->bind(1, executionId);
      if (!query->step()) return std::nullopt;
      // A last step that failed with onError: continue: the result is null.
      if (query->isNull(0)) return query->text(2) == "failed" ? std::optional<StoredResult>(StoredResult{}) : std::nullopt;
      kind = query->text(0);
      text = query->text(1);
    }
    return decodeResult(kind, text);
  });
}

std::vector<RecordedStep> SqliteStore::recordedSteps(const std::string& executionId) {
  return reading(*health_, "recordedSteps", executionId, [&] {
    struct Row {
      std::string name, status;
      std::optional<std::string> kind, error;
      std::string text;
      std::optional<TimePoint> wakeAt;
      TimePoint startedAt;
      int iteration, attempts;
    };
    std::vector<Row> rows;
    {
      auto db = readers_->acquire();
      ReadTransaction snapshot(*db);
      auto query = db->prepare(
          "SELECT s.name, s.status, s.result_kind, s.result, COALESCE(s.wake_at, w.wake_at), s.started_at, s.iteration, "
          "s.attempts, "
          "s.error FROM steps s "
          "LEFT JOIN wakeups w ON w.execution_id = s.execution_id AND s.status = 'waiting' "
          "WHERE s.execution_id = ?1 AND s.status IN ('succeeded', 'waiting', 'failed') "
          "ORDER BY s.seq");
      query->bind(1, executionId);
      while (query->step())
        rows.push_back(Row{query->text(0), query->text(1), query->optionalText(2), query->optionalText(8),
                           query->isNull(3) ? std::string() : query->text(3), query->optionalTime(4),
                           query->time(5), static_cast<int>(query->integer(6)), static_cast<int>(query->integer(7))});
    }
    // Decoded outside the snapshot: results may read blob files.
    std::vector<RecordedStep> steps;
    for (Row& row : rows) {
      RecordedStep step;
      step.name = std::move(row.name);
      step.iteration = row.iteration;
      step.status = row.status == "waiting" ? StepStatus::Waiting
                    : row.status == "failed" ? StepStatus::Failed
                                             : StepStatus::Succeeded;
      if (step.status == StepStatus::Succeeded && !row.kind) continue;  // a branch or loop is not over until its end
      if (row.kind) step.result = decodeResult(*row.kind, row.text);
      step.error = std::move(row.error);
      step.wakeAt = row.wakeAt;
      step.startedAt = row.startedAt;
      step.attempts = row.attempts;
      steps.push_back(std::move(step));
    }
    return steps;
  });
}

std::vector<std::string> SqliteStore::unfinishedExecutions() {
  return reading(*health_, "unfinishedExecutions", "all", [&] {
    auto db = readers_->acquire();
    auto query = db->prepare(
        "SELECT id FROM executions WHERE status IN ('queued', 'running') ORDER BY seq");
    std::vector<std::string> ids;
    while (query->step()) ids.push_back(query->text(0));
    return ids;
  });
}

// --- recovery ----------------------------------------------------------------------

namespace {

/// Counts one more crash for the execution the crash handler named, if it
/// is unfinished: it was the one running when the process died, whether or
/// not its "running" state had been committed yet (progress writes are not
/// waited for).
void countCrashOf(Connection& db, const CrashRecord& crash) {
  auto count = db.prepare(
      "INSERT INTO execution_crashes (execution_id, crashes, step) "
      "SELECT id, 1, ?2 FROM executions WHERE id = ?1 AND status IN ('queued', 'running') "
      "ON CONFLICT (execution_id) DO UPDATE SET crashes = crashes + 1, step = excluded.step");
  count->bind(1, crash.executionId);
  count->bind(2, crash.step);
  count->run();
}

/// Without a crash record (kill -9, the OOM killer, a power cut) the
/// culprit is unknown: every execution that was running counts one crash.
void countCrashOfRunning(Connection& db) {
  db.prepare(
        "INSERT INTO execution_crashes (execution_id, crashes, step) "
        "SELECT e.id, 1, (SELECT s.name FROM steps s WHERE s.execution_id = e.id AND s.status = 'running' "
        "ORDER BY s.seq DESC LIMIT 1) FROM executions e WHERE e.status = 'running' "
        "ON CONFLICT (execution_id) DO UPDATE SET crashes = crashes + 1, step = excluded.step")
      ->run();
}

std::string abandonMessage(const std::string& step, int crashes) {
  return "the server stopped while " + (step.empty() ? std::string("this execution") : "step " + step) +
         " ran, " + (crashes == 1 ? std::string("once") : std::to_string(crashes) + " times") + "; not retried";
}

void abandon(Connection& db, const AbandonedExecution& execution, TimePoint now) {
  auto update = db.prepare(
      "UPDATE executions SET status = 'failed', ended_at = ?2, error = ?3, error_step = ?4 WHERE id = ?1");
  update->bind(1, execution.id);
  update->bind(2, now);
  update->bind(3, execution.error);
  if (execution.step.empty()) update->bindNull(4); else update->bind(4, execution.step);
  update->run();
  auto log = db.prepare(
      "INSERT INTO logs (execution_id, time, level, step, message) VALUES (?1, ?2, 'error', NULL, ?3)");
  log->bind(1, execution.id);
  log->bind(2, now);
  log->bind(3, execution.error);
  log->run();
}

}  // namespace

RecoveryReport SqliteStore::recoverUnfinished(const RecoveryPolicy& policy) {
  RecoveryReport report;
  report.lastStop = folder_->lastStop();
  writing(*health_, "recoverUnfinished", "all", [&] {
    TimePoint now = nowMs();
    writer_->write([&](Connection& db) {
      report.requeued.clear();
      report.abandoned.clear();
      report.waiting.clear();
      if (report.lastStop.crashed()) {
        if (report.lastStop.crash && !report.lastStop.crash->executionId.empty())
          countCrashOf(db, *report.lastStop.crash);
        else
          countCrashOfRunning(db);
      }
      {
        auto unfinished = db.prepare(
            "SELECT e.id, e.integration_key, e.instance_name, COALESCE(c.crashes, 0), c.step FROM executions e "
            "LEFT JOIN execution_crashes c ON c.execution_id = e.id "
            "WHERE e.status IN ('queued', 'running') ORDER BY e.seq");
        while (unfinished->step()) {
          int crashes = static_cast<int>(unfinished->integer(3));
          if (crashes < policy.maxCrashRestarts) {
            report.requeued.push_back(RecoveredExecution{unfinished->text(0), crashes});
            continue;
          }
          AbandonedExecution gone{unfinished->text(0), unfinished->text(1), unfinished->text(2),
                                  unfinished->text(4), crashes, ""};
          gone.error = abandonMessage(gone.step, crashes);
          report.abandoned.push_back(std::move(gone));
        }
      }
      for (const AbandonedExecution& execution : report.abandoned) abandon(db, execution, now);
      // The rest resume after their recorded steps: only the steps that were
      // running when the server stopped have nothing to keep.
      db.prepare(
            "DELETE FROM steps WHERE status = 'running' AND execution_id IN "
            "(SELECT id FROM executions WHERE status IN ('queued', 'running'))")
          ->run();
      {
        auto waiting = db.prepare(
            "SELECT w.execution_id, w.wake_at FROM wakeups w JOIN executions e ON e.id = w.execution_id "
            "WHERE e.status = 'waiting' ORDER BY w.wake_at");
        while (waiting->step()) report.waiting.push_back(Wakeup{waiting->text(0), waiting->time(1)});
      }
      db.prepare(
            "UPDATE executions SET status = 'queued', ended_at = NULL, error = NULL, "
            "error_step = NULL WHERE status = 'running'")
          ->run();  // started_at stays: it resumes, and execution.timeoutMs counts from its first start
    });
  });
  folder_->clearCrashRecord();
  return report;
}

// --- results ---------------------------------------------------------------------

std::string SqliteStore::encodeResult(const StoredResult& result) const {
  if (!result.isStatus) return encodePayload(result.data, blobs_);
  plexus::Json status = plexus::Json::object();
  status["statusCode"] = result.status.statusCode;
  status["headers"] = plexus::Json::object();
  for (const auto& [name, value] : result.status.headers) status["headers"][name] = value;
  if (result.status.body) status["body"] = *result.status.body;
  return encodePayload(status, blobs_);
}

StoredResult SqliteStore::decodeResult(const std::string& kind, const std::string& text) const {
  StoredResult result;
  plexus::Json value = decodePayload(text, blobs_);
  if (kind == "data") {
    result.data = std::move(value);
    return result;
  }
  if (kind != "status" || !value.is_object() || !value.contains("statusCode")) {
    throw StoreError("the database holds a malformed step result (kind '" + kind + "')");
  }
  result.isStatus = true;
  result.status.statusCode = value["statusCode"].get<int>();
  for (const auto& [name, header] : value["headers"].items()) {
    result.status.headers[name] = header.get<std::string>();
  }
  if (value.contains("body")) result.status.body = std::move(value["body"]);
  return result;
}

// --- schedule fires --------------------------------------------------------------

bool SqliteStore::recordFire(const std::string& instanceId, TimePoint dueAt) {
  return writing(*health_, "recordFire", instanceId + " at " + formatIsoSeconds(dueAt), [&] {
    bool first = false;
    writer_->write([&](Connection& db) { first = recordFireIfNew(db, instanceId, dueAt); }, kOneStatement);
    return first;
  });
}

std::vector<bool> SqliteStore::recordScheduledFires(const std::vector<ScheduledFire>& fires) {
  std::string subject = std::to_string(fires.size()) + " fire(s)";
  return writing(*health_, "recordScheduledFires", subject, [&] {
    std::vector<std::string> triggerResults(fires.size());
    for (std::size_t i = 0; i < fires.size(); ++i)  // on the caller's thread
      if (fires[i].execution) triggerResults[i] = encodePayload(fires[i].execution->triggerResults, blobs_);
    std::vector<bool> first(fires.size(), false);
    // One savepoint for all: a failure undoes every fire and execution of
    // the call, so none is recorded without the other.
    writer_->write([&](Connection& db) {
      for (std::size_t i = 0; i < fires.size(); ++i) {
        first[i] = recordFireIfNew(db, fires[i].instanceId, fires[i].dueAt);
        if (!first[i] || !fires[i].execution) continue;
        insertExecution(db, *fires[i].execution, triggerResults[i]);
        if (const auto& startsAt = fires[i].execution->startsAt) {
          auto wakeup = db.prepare("INSERT INTO wakeups (execution_id, wake_at) VALUES (?1, ?2)");
          wakeup->bind(1, fires[i].execution->id);
          wakeup->bind(2, *startsAt);
          wakeup->run();
        }
      }
    });
    return first;
  });
}

std::optional<TimePoint> SqliteStore::lastFire(const std::string& instanceId) {
  return reading(*health_, "lastFire", instanceId, [&]() -> std::optional<TimePoint> {
    auto db = readers_->acquire();
    auto query = db->prepare("SELECT due_at FROM last_fires WHERE instance_id = ?1");
    query->bind(1, instanceId);
    if (!query->step()) return std::nullopt;
    return query->optionalTime(0);
  });
}

}  // namespace plexus::core
