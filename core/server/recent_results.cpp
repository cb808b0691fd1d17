#include "server/recent_results.hpp"

#include "server/http_reply.hpp"

namespace plexus::core {

namespace {
constexpr std::size_t kRecentResults = 4096;          // entries
constexpr std::size_t kRecentResultMaxBytes = 64 * 1024;  // per entry, as served
}  // namespace

void RecentResults::remember(const std::string& executionId, const StoredResult& result) {
  if (!result.isStatus && servedSize(result.data) > kRecentResultMaxBytes) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!results_.emplace(executionId, result).second) return;
  order_.push_back(executionId);
  if (order_.size() > kRecentResults) {
    results_.erase(order_.front());
    order_.pop_front();
  }
}

std::optional<StoredResult> RecentResults::find(const std::string& executionId) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = results_.find(executionId);
  if (it == results_.end()) return std::nullopt;
  return it->second;
}

}  // namespace plexus::core
