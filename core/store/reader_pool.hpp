// Read-only connections for the store's queries. Internal to the store layer.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/sqlite_connection.hpp"

namespace plexus::core {

/// Hands each reading thread a connection of its own for the length of one
/// query. WAL lets any number of readers run beside the writer, and each
/// read transaction sees every transaction committed before it started, so
/// a read made after a write call returned sees that write.
///
/// Ownership: idle connections belong to the pool; a Lease owns its
/// connection until it is destroyed and gives it back. A connection is
/// used by one thread at a time (they are opened NOMUTEX). Connections are
/// opened on demand; at most `maxIdle` are kept once the demand is over.
class ReaderPool {
 public:
  ReaderPool(std::string databasePath, int busyTimeoutMs, std::size_t maxIdle);

  class Lease {
   public:
    Lease(ReaderPool& pool, std::unique_ptr<sqlite::Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    ~Lease() { pool_.giveBack(std::move(connection_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    sqlite::Connection& operator*() { return *connection_; }
    sqlite::Connection* operator->() { return connection_.get(); }

   private:
    ReaderPool& pool_;
    std::unique_ptr<sqlite::Connection> connection_;
  };

  /// A connection for this thread; throws StoreError if one cannot be opened.
  Lease acquire();

 private:
  void giveBack(std::unique_ptr<sqlite::Connection> connection);

  const std::string databasePath_;
  const int busyTimeoutMs_;
  const std::size_t maxIdle_;
  std::mutex mutex_;  // guards idle_
  std::vector<std::unique_ptr<sqlite::Connection>> idle_;
};

}  // namespace plexus::core
