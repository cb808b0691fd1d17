// A thin RAII layer over the sqlite3 C API: one connection and its cached
// prepared statements. Internal to the store layer.
//
// Why the C API and not Poco::Data: the store's hot path (tens of thousands
// of small writes a second, batched by one writer thread) wants statements
// prepared once and re-bound per call, explicit BEGIN/SAVEPOINT/COMMIT
// control and no per-call allocation for bindings. Poco::Data binds by
// reference into Statement objects and builds binder/extraction objects per
// execution; on Debian it wraps this same libsqlite3.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace plexus::core::sqlite {

/// A failed SQLite call; `code()` is SQLite's extended result code
/// (e.g. SQLITE_CONSTRAINT_UNIQUE) so callers can turn it into a better message.
class Error : public StoreError {
 public:
  Error(int code, const std::string& message, std::string sqliteMessage = {})
      : StoreError(message), code_(code), sqliteMessage_(std::move(sqliteMessage)) {}
  int code() const { return code_; }
  /// SQLite's own words ("UNIQUE constraint failed: instances.name"), without our context.
  const std::string& sqliteMessage() const { return sqliteMessage_; }
  /// True for UNIQUE and PRIMARY KEY violations.
  bool isUniqueViolation() const;

 private:
  int code_;
  std::string sqliteMessage_;
};

/// One prepared statement. Owned by its Connection's cache; bound, stepped
/// and reset by one thread at a time (whoever holds the connection).
/// Text is bound without copying: the bound strings must outlive the
/// statement's use (the Use guard below resets it before they go away).
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters count from 1, as in SQL (?1, ?2, ...).
  void bind(int index, std::string_view text);
  void bind(int index, const char* text) { bind(index, std::string_view(text)); }
  void bind(int index, std::int64_t value);
  void bind(int index, int value) { bind(index, static_cast<std::int64_t>(value)); }
  void bind(int index, bool value) { bind(index, static_cast<std::int64_t>(value ? 1 : 0)); }
  void bind(int index, TimePoint time) { bind(index, static_cast<std::int64_t>(time.time_since_epoch().count())); }
  void bindNull(int index);
  template <typename T>
  void bind(int index, const std::optional<T>& value) {
    if (value) bind(index, *value); else bindNull(index);
  }

  /// Runs one step: true when a row is available, false when done.
  bool step();
  /// Steps a statement that returns no rows.
  void run() { step(); }

  // Columns count from 0, as in sqlite3_column_*.
  bool isNull(int column) const;
  std::int64_t integer(int column) const;
  std::string text(int column) const;
  TimePoint time(int column) const { return TimePoint(std::chrono::milliseconds(integer(column))); }
  std::optional<std::string> optionalText(int column) const;
  std::optional<TimePoint> optionalTime(int column) const;

  /// Resets for the next use and clears the bindings.
  void reset();

  /// Resets a cached statement when the scope that used it ends, so it
  /// releases its read snapshot and no binding outlives the bound strings.
  class Use {
   public:
    explicit Use(Statement& statement) : statement_(statement) {}
    ~Use() { statement_.reset(); }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    Statement* operator->() { return &statement_; }
    Statement& operator*() { return statement_; }

   private:
    Statement& statement_;
  };

 private:
  [[noreturn]] void fail(int code, const char* what) const;

  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
};

/// One SQLite connection and its statement cache.
/// Threads: opened with SQLITE_OPEN_NOMUTEX, so exactly one thread may use it
/// at a time; whoever owns it (the writer thread, or a reader holding a
/// lease from the pool) guarantees that.
class Connection {
 public:
  enum class Mode { ReadWriteCreate, ReadOnly };

  /// Opens `path`. Throws StoreError naming the path when it cannot.
  Connection(const std::string& path, Mode mode, int busyTimeoutMs);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one or more statements that return no rows (DDL, PRAGMA, BEGIN).
  void exec(const char* sql);
  /// Runs `sql` and reports success instead of throwing; for cleanup on an
  /// error path (ROLLBACK), where the first error is the one to report.
  bool tryExec(const char* sql) noexcept;
  /// A single-value query ("PRAGMA journal_mode=WAL" answers "wal").
  std::string queryText(const char* sql);

  /// The cached prepared statement for `sql`, prepared on first use.
  /// `sql` must have static storage (a string literal): it keys the cache.
  Statement::Use prepare(const char* sql);

  /// Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int changes() const;
  /// False while a transaction is open (SQLite rolls a transaction back by
  /// itself after some errors, such as a full disk).
  bool autocommit() const;
  const std::string& path() const { return path_; }
  /// The raw handle, for the few C API calls this class does not wrap (the
  /// WAL commit hook, checkpoints). Same threading rule as the connection.
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  std::unordered_map<std::string_view, std::unique_ptr<Statement>> statements_;
};

}  // namespace plexus::core::sqlite
