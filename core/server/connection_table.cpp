#include "server/connection_table.hpp"

#include <vector>

namespace plexus::core {

ConnectionTable::Admission ConnectionTable::admit(const std::string& address, std::shared_ptr<Member>& victim) {
  std::lock_guard<std::mutex> lock(mutex_);
  int& fromClient = perClient_[address];
  if (maxPerClient_ > 0 && fromClient >= maxPerClient_) {
    if (fromClient == 0) perClient_.erase(address);
    return Admission::OverClientLimit;
  }
  if (total_ >= maxTotal_) {
    while (!waiting_.empty() && !victim) {
      victim = waiting_.front().lock();
      if (victim) victim->waiting_ = false;
      waiting_.pop_front();
    }
    if (!victim) {
      if (fromClient == 0) perClient_.erase(address);
      return Admission::Full;
    }
  }
  ++fromClient;
  ++total_;
  return Admission::Admitted;
}

void ConnectionTable::add(const std::shared_ptr<Member>& member) {
  std::lock_guard<std::mutex> lock(mutex_);
  member->all_ = all_.insert(all_.end(), member);
  member->inTable_ = true;
}

void ConnectionTable::remove(Member& member, const std::string& address) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (member.waiting_) waiting_.erase(member.waitingPos_);
  member.waiting_ = false;
  if (member.inTable_) all_.erase(member.all_);
  member.inTable_ = false;
  auto it = perClient_.find(address);
  if (it != perClient_.end() && --it->second <= 0) perClient_.erase(it);
  if (--total_ == 0) emptied_.notify_all();
}

void ConnectionTable::setWaiting(Member& member, bool waiting) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!member.inTable_ || member.waiting_ == waiting) return;
  if (waiting) {
    member.waitingPos_ = waiting_.insert(waiting_.end(), *member.all_);
  } else {
    waiting_.erase(member.waitingPos_);
  }
  member.waiting_ = waiting;
}

void ConnectionTable::closeAll(bool force) {
  std::vector<std::shared_ptr<Member>> members;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& weak : force ? all_ : waiting_)
      if (auto member = weak.lock()) members.push_back(std::move(member));
  }
  // Outside the lock: closeSoon() posts to the connection, whose
  // destructor takes the lock to remove itself.
  for (const auto& member : members) member->closeSoon(force);
}

bool ConnectionTable::waitUntilEmpty(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  return emptied_.wait_until(lock, deadline, [&] { return total_ == 0; });
}

int ConnectionTable::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return total_;
}

}  // namespace plexus::core
