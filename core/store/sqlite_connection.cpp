#include "store/sqlite_connection.hpp"

#include <sqlite3.h>

namespace plexus::core::sqlite {

bool Error::isUniqueViolation() const {
  return code_ == SQLITE_CONSTRAINT_UNIQUE || code_ == SQLITE_CONSTRAINT_PRIMARYKEY;
}

// --- Statement -------------------------------------------------------------

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  // PERSISTENT: these statements live as long as the connection.
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &statement_, nullptr);
  if (rc != SQLITE_OK) {
    throw Error(rc, "cannot prepare SQL \"" + std::string(sql) + "\": " + sqlite3_errmsg(db));
  }
}

Statement::~Statement() { sqlite3_finalize(statement_); }

void Statement::fail(int code, const char* what) const {
  const char* sql = sqlite3_sql(statement_);
  std::string message = sqlite3_errmsg(db_);
  throw Error(sqlite3_extended_errcode(db_), std::string(what) + ": " + message + " (SQL: " + (sql ? sql : "?") + ")",
              message);
}

void Statement::bind(int index, std::string_view text) {
  // SQLITE_STATIC: no copy; the Use guard resets before `text` goes away.
  int rc = sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                             SQLITE_STATIC);
  if (rc != SQLITE_OK) fail(rc, "cannot bind a parameter");
}

void Statement::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(statement_, index, value);
  if (rc != SQLITE_OK) fail(rc, "cannot bind a parameter");
}

void Statement::bindNull(int index) {
  int rc = sqlite3_bind_null(statement_, index);
  if (rc != SQLITE_OK) fail(rc, "cannot bind a parameter");
}

bool Statement::step() {
  int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(rc, "SQL statement failed");
}

bool Statement::isNull(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

std::int64_t Statement::integer(int column) const { return sqlite3_column_int64(statement_, column); }

std::string Statement::text(int column) const {
  const auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
  if (bytes == nullptr) return {};
  return std::string(bytes, static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
}

std::optional<std::string> Statement::optionalText(int column) const {
  if (isNull(column)) return std::nullopt;
  return text(column);
}

std::optional<TimePoint> Statement::optionalTime(int column) const {
  if (isNull(column)) return std::nullopt;
  return time(column);
}

void Statement::reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

// --- Connection ------------------------------------------------------------

Connection::Connection(const std::string& path, Mode mode, int busyTimeoutMs) : path_(path) {
  int flags = SQLITE_OPEN_NOMUTEX;  // one thread at a time, by construction
  flags |= mode == Mode::ReadOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string reason = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(rc, "cannot open the database '" + path + "': " + reason +
                        " (check that the data directory exists and is writable)");
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, busyTimeoutMs);
}

Connection::~Connection() {
  statements_.clear();  // finalize before close, or sqlite3_close refuses
  sqlite3_close(db_);
}

void Connection::exec(const char* sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string reason = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw Error(sqlite3_extended_errcode(db_),
                "SQL on '" + path_ + "' failed: " + reason + " (SQL: " + sql + ")");
  }
}

bool Connection::tryExec(const char* sql) noexcept {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

std::string Connection::queryText(const char* sql) {
  Statement statement(db_, sql);
  return statement.step() ? statement.text(0) : std::string();
}

Statement::Use Connection::prepare(const char* sql) {
  auto found = statements_.find(sql);
  if (found == statements_.end()) {
    found = statements_.emplace(sql, std::make_unique<Statement>(db_, sql)).first;
  }
  return Statement::Use(*found->second);
}

int Connection::changes() const { return sqlite3_changes(db_); }

bool Connection::autocommit() const { return sqlite3_get_autocommit(db_) != 0; }

}  // namespace plexus::core::sqlite
