#include "store/group_commit.hpp"

#include <algorithm>

#include <Poco/Logger.h>

namespace plexus::core {

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<sqlite::Connection> connection, BatchObserver observer)
    : connection_(std::move(connection)), observer_(std::move(observer)), thread_([this] { run(); }) {}

GroupCommitWriter::~GroupCommitWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wakeWriter_.notify_one();
  thread_.join();
}

void GroupCommitWriter::write(WriteRef work, Undo undo) {
  Request request(work, undo);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      throw StoreError("the store is closing; the write was not applied (database '" +
                       connection_->path() + "')");
    }
    pending_.push_back(&request);
    wakeWriterIfWanted();
  }
  request.wait();
  if (request.error) std::rethrow_exception(request.error);
}

void GroupCommitWriter::post(std::function<void(sqlite::Connection&)> work, Undo undo, FailureCallback onFailure,
                             DoneCallback onDone) {
  auto owned = std::make_unique<std::function<void(sqlite::Connection&)>>(std::move(work));
  auto* request = new Request(WriteRef(*owned), undo);  // Deleted by the writer thread (markDone).
  request->owned = std::move(owned);
  request->onFailure = std::move(onFailure);
  request->onDone = std::move(onDone);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      delete request;
      throw StoreError("the store is closing; the write was not applied (database '" +
                       connection_->path() + "')");
    }
    pending_.push_back(request);
    wakeWriterIfWanted();
  }
}

void GroupCommitWriter::Request::wait() {
  Request* toWake = nullptr;
  {
    std::unique_lock<std::mutex> lock(mutex);
    doneChanged.wait(lock, [&] { return done; });
    toWake = next;  // read before returning: the writer set it before finish()
  }
  if (toWake) toWake->finish();
}

void GroupCommitWriter::Request::finish() {
  std::lock_guard<std::mutex> lock(mutex);
  done = true;
  // Notified under the lock: the waiter cannot return (and destroy this
  // request) before the lock is released.
  doneChanged.notify_one();
}

std::uint64_t GroupCommitWriter::batchesCommitted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return batches_;
}

std::uint64_t GroupCommitWriter::writesCommitted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return writes_;
}

void GroupCommitWriter::wakeWriterIfWanted() {
  if (writerIdle_ || (gathering_ && pending_.size() >= kFullBatch)) {
    writerIdle_ = false;
    gathering_ = false;
    wakeWriter_.notify_one();
  }
}

void GroupCommitWriter::run() {
  std::vector<Request*> batch;
  std::size_t lastBatch = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      writerIdle_ = true;
      wakeWriter_.wait(lock, [&] { return !pending_.empty() || stopping_; });
      writerIdle_ = false;
      if (lastBatch >= kBusyBatch && pending_.size() < kFullBatch && !stopping_) {
        // Busy: let more writes join before committing (see kCommitDelay).
        gathering_ = true;
        wakeWriter_.wait_for(lock, kCommitDelay, [&] { return !gathering_ || stopping_; });
        gathering_ = false;
      }
      if (pending_.empty()) return;  // stopping, and nothing left to write
      batch.swap(pending_);
    }
    lastBatch = batch.size();
    applyBatch(batch);
    markDone(batch);
    batch.clear();
  }
}

void GroupCommitWriter::applyBatch(std::vector<Request*>& batch) {
  batchCommitted_ = false;
  try {
    connection_->prepare("BEGIN IMMEDIATE")->run();
  } catch (const std::exception&) {  // handed to the callers below
    failAll(batch, std::current_exception());
    return;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    applyOne(*batch[i]);
    if (connection_->autocommit()) {
      // SQLite rolled the whole transaction back (disk full, I/O error):
      // the writes before this one are lost too, and so are the rest.
      failAll(batch, batch[i]->error ? batch[i]->error
                                     : std::make_exception_ptr(StoreError(
                                           "the write transaction was rolled back by SQLite")));
      return;
    }
  }
  try {
    connection_->prepare("COMMIT")->run();
    batchCommitted_ = true;
  } catch (const std::exception&) {  // handed to the callers below
    if (!connection_->autocommit()) connection_->tryExec("ROLLBACK");
    failAll(batch, std::current_exception());
  }
}

// A failing write (a duplicate id, a constraint) is undone alone, by its
// savepoint or by SQLite's statement rollback, and the others in the batch
// still commit.
void GroupCommitWriter::applyOne(Request& request) {
  bool savepoint = request.undo == Undo::Savepoint;
  try {
    if (savepoint) connection_->prepare("SAVEPOINT w")->run();
    request.work(*connection_);
    if (savepoint) connection_->prepare("RELEASE w")->run();
  } catch (...) {  // any exception: handed to the caller, not hidden
    request.error = std::current_exception();
    if (!savepoint || connection_->autocommit()) return;  // nothing left to undo here
    if (!connection_->tryExec("ROLLBACK TO w") || !connection_->tryExec("RELEASE w")) {
      // A write we cannot undo must not be committed with the others: end
      // the transaction; applyBatch then fails the whole batch.
      connection_->tryExec("ROLLBACK");
    }
  }
}

void GroupCommitWriter::failAll(std::vector<Request*>& batch, const std::exception_ptr& error) {
  for (Request* request : batch) {
    if (!request->error) request->error = error;
  }
}

void GroupCommitWriter::markDone(std::vector<Request*>& batch) {
  if (observer_) {
    auto failed = std::find_if(batch.begin(), batch.end(), [](const Request* request) { return request->error; });
    if (failed != batch.end()) observer_((*failed)->error);
    if (batchCommitted_) observer_(nullptr);
  }
  std::uint64_t succeeded = 0;
  std::vector<Request*> waiting;
  waiting.reserve(batch.size());
  for (Request* request : batch) {
    if (!request->error) ++succeeded;
    if (!request->owned) {
      waiting.push_back(request);
      continue;
    }
    if (request->error) reportPostedFailure(*request);
    if (request->onDone) callDone(*request);
    delete request;  // A posted write: nobody waits for it.
  }
  for (std::size_t i = 0; i < waiting.size(); ++i) waiting[i]->next = i + 1 < waiting.size() ? waiting[i + 1] : nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++batches_;
    writes_ += succeeded;
  }
  // Wakes the first caller, who wakes the next... After this call the
  // requests may vanish: no more access.
  if (!waiting.empty()) waiting.front()->finish();
}

void GroupCommitWriter::callDone(const Request& request) {
  // The callbacks belong to other layers; whatever they throw must not end
  // this thread, which every write of the process goes through.
  try {
    request.onDone(request.error);
  } catch (const std::exception& error) {
    Poco::Logger::get("plexus.store").error("a write's completion callback threw: %s", std::string(error.what()));
  } catch (...) {
    Poco::Logger::get("plexus.store").error("a write's completion callback threw a non-standard exception");
  }
}

void GroupCommitWriter::reportPostedFailure(const Request& request) {
  std::string message = "a non-standard exception";
  try {
    std::rethrow_exception(request.error);
  } catch (const std::exception& failure) {
    message = failure.what();
  } catch (...) {
    // Nothing more is known about it; it must not end the writer thread.
  }
  Poco::Logger::get("plexus.store").error("a queued write to '%s' failed: %s", connection_->path(), message);
  if (!request.onFailure) return;
  try {
    request.onFailure(message);
  } catch (const std::exception& error) {
    Poco::Logger::get("plexus.store").error("a write's failure callback threw: %s", std::string(error.what()));
  }
}

}  // namespace plexus::core
