#include <catch2/catch.hpp>

#include <filesystem>

#include "store/wal_checkpointer.hpp"
#include "temp_dir.hpp"

using namespace plexus::core;
using plexus::core::testing::TempDir;

namespace {
std::uintmax_t walBytes(const TempDir& temp) {
  std::error_code ignored;
  auto size = std::filesystem::file_size(temp.sub("db.sqlite-wal"), ignored);
  return ignored ? 0 : size;
}
}  // namespace

TEST_CASE("checkpoints run beside the writer and the WAL starts over instead of growing",
          "[store][checkpoint]") {
  TempDir temp;
  sqlite::Connection writer(temp.sub("db.sqlite"), sqlite::Connection::Mode::ReadWriteCreate, 1000);
  writer.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
              "CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)");
  WalCheckpointer::Options options;
  options.backgroundFrames = 64;
  options.finishFrames = 16;
  options.forceFrames = 1024;
  WalCheckpointer checkpointer(temp.sub("db.sqlite"), 1000, options);
  checkpointer.attach(writer);

  const std::string payload(3000, 'x');  // about a page per row
  std::uintmax_t largestWal = 0;
  for (int i = 0; i < 3000; ++i) {
    auto insert = writer.prepare("INSERT INTO t (payload) VALUES (?1)");
    insert->bind(1, payload);
    insert->run();  // one transaction, one commit, one call of the hook
    largestWal = std::max(largestWal, walBytes(temp));
  }
  CHECK(checkpointer.backgroundCheckpoints() > 0);
  CHECK(checkpointer.writerCheckpoints() > 0);
  // 3000 commits of at least a page each: without checkpoints that start the
  // WAL over it would pass 12 MB. The writer's forced checkpoint waits for a
  // background one under way, so however slow the machine, the WAL ends at
  // forceFrames plus one commit (a few frames of 4 KiB and a 24-byte header).
  const std::uintmax_t frameBytes = 4096 + 24;
  CHECK(largestWal <= static_cast<std::uintmax_t>(options.forceFrames + 8) * frameBytes + 32);
  CHECK(writer.queryText("SELECT count(*) FROM t") == "3000");
}
