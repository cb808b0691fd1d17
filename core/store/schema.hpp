// The store's tables, and the migrations that bring an older database file
// up to the current schema. Internal to the store layer.
#pragma once

#include "store/sqlite_connection.hpp"

namespace plexus::core {

/// The schema version this build writes.
constexpr int kSchemaVersion = 6;

/// Creates the tables in an empty database, or migrates an older one, in
/// one transaction. Throws StoreError when the file was written by a newer
/// Plexus (a higher schema version) or is not a Plexus database.
/// `targetVersion` is for tests that need a database of an older version.
void migrateSchema(sqlite::Connection& connection, int targetVersion = kSchemaVersion);

}  // namespace plexus::core
