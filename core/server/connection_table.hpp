// Who is connected: the counts behind --max-connections and
// --max-connections-per-client, and which connection to close when full.
#pragma once

#include <condition_variable>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace plexus::core {

/// Thread-safe. A connection is "waiting" while it holds nothing but a
/// socket: idle between requests or still receiving its request head.
/// When every slot is taken, a new connection takes the slot of the one
/// that has been waiting longest, so idle and slow callers cannot keep a
/// new caller out; connections busy with a request are never closed.
class ConnectionTable {
 public:
  /// A connection as the table sees it; the fields are the table's.
  class Member {
   public:
    virtual ~Member() = default;
    /// Asks the connection to close (from any thread): only if it is still
    /// waiting, unless `force`.
    virtual void closeSoon(bool force) = 0;

   private:
    friend class ConnectionTable;
    std::list<std::weak_ptr<Member>>::iterator all_;
    std::list<std::weak_ptr<Member>>::iterator waitingPos_;
    bool inTable_ = false;
    bool waiting_ = false;
  };

  enum class Admission { Admitted, OverClientLimit, Full };

  /// `maxPerClient` 0: no per-address limit.
  ConnectionTable(int maxTotal, int maxPerClient) : maxTotal_(maxTotal), maxPerClient_(maxPerClient) {}

  /// Counts a new connection from `address`, or refuses it. At the total
  /// cap, the longest-waiting connection is handed back in `victim` (to be
  /// closed by the caller) and the new one is admitted in its place.
  Admission admit(const std::string& address, std::shared_ptr<Member>& victim);
  /// Lists an admitted connection (once it exists as a shared object).
  void add(const std::shared_ptr<Member>& member);
  /// Undoes admit() and add(); called when the connection is destroyed.
  void remove(Member& member, const std::string& address);
  void setWaiting(Member& member, bool waiting);

  /// closeSoon(force) on every listed connection (on waiting ones only, unless `force`).
  void closeAll(bool force);
  /// Waits until no connection is counted or `deadline` passes; true if none is left.
  bool waitUntilEmpty(std::chrono::steady_clock::time_point deadline);
  int size() const;

 private:
  const int maxTotal_;
  const int maxPerClient_;
  mutable std::mutex mutex_;
  std::condition_variable emptied_;
  int total_ = 0;
  std::unordered_map<std::string, int> perClient_;
  std::list<std::weak_ptr<Member>> all_;
  std::list<std::weak_ptr<Member>> waiting_;  // Longest-waiting first.
};

}  // namespace plexus::core
