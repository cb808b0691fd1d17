// `plexus schedule next`, called as main() calls it, with std::cout and
// std::cerr captured.
#include <catch2/catch.hpp>

#include <iostream>
#include <sstream>
#include <string>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "util/time.hpp"

using namespace plexus::core;
using plexus::core::cli::Arguments;
using plexus::core::cli::UsageError;

namespace {

/// Redirects a stream into a string for the life of the object.
class Capture {
 public:
  explicit Capture(std::ostream& stream) : stream_(stream), saved_(stream.rdbuf(buffer_.rdbuf())) {}
  ~Capture() { stream_.rdbuf(saved_); }
  std::string text() const { return buffer_.str(); }

 private:
  std::ostream& stream_;
  std::ostringstream buffer_;
  std::streambuf* saved_;
};

struct Outcome {
  int exitCode;
  std::string out;
  std::string err;
};

Outcome run(const Arguments& arguments) {
  Capture out(std::cout);
  Capture err(std::cerr);
  const int exitCode = cli::scheduleCommand(arguments);
  return {exitCode, out.text(), err.text()};
}

}  // namespace

TEST_CASE("schedule next prints cron fire times, one ISO-8601 UTC time a line", "[schedule][cli]") {
  const Outcome outcome = run({"next", "--cron", "*/5 8-16 * * 1-5", "--timezone", "America/Chicago", "--from",
                               "2026-12-01T14:03:00Z", "--count", "3"});
  CHECK(outcome.exitCode == 0);
  CHECK(outcome.out == "2026-12-01T14:05:00Z\n2026-12-01T14:10:00Z\n2026-12-01T14:15:00Z\n");
  CHECK(outcome.err.empty());
}

TEST_CASE("schedule next prints five times after now by default", "[schedule][cli]") {
  const TimePoint before = nowMs();
  const Outcome outcome = run({"next", "--cron", "* * * * *"});
  REQUIRE(outcome.exitCode == 0);
  std::istringstream lines(outcome.out);
  std::string line;
  int count = 0;
  TimePoint previous = before;
  while (std::getline(lines, line)) {
    auto t = parseIso(line);
    REQUIRE(t);
    CHECK(*t > previous);
    previous = *t;
    ++count;
  }
  CHECK(count == 5);
  CHECK(previous - before <= std::chrono::minutes(5));
}

TEST_CASE("schedule next prints interval fire times and accepts --name=value", "[schedule][cli]") {
  const Outcome outcome = run({"next", "--every=2", "--unit=weeks", "--from=2026-12-01T14:00:00Z", "--count=2"});
  CHECK(outcome.exitCode == 0);
  CHECK(outcome.out == "2026-12-14T00:00:00Z\n2026-12-28T00:00:00Z\n");
}

TEST_CASE("schedule next reads names case-insensitively and 7 as Sunday", "[schedule][cli]") {
  for (const char* dayOfWeek : {"sun", "SUN", "0", "7"}) {
    const Outcome outcome = run({"next", "--cron", std::string("0 8 * dec ") + dayOfWeek, "--from",
                                 "2026-12-01T00:00:00Z", "--count", "1"});
    CHECK(outcome.out == "2026-12-06T08:00:00Z\n");
  }
}

TEST_CASE("schedule next exits 1 with the reason for an invalid schedule", "[schedule][cli][errors]") {
  auto [arguments, message] = GENERATE(table<Arguments, std::string>({
      {{"next", "--cron", "0 25 * * *"}, "plexus schedule: cron field 2 (hour) '25': value out of range 0-23\n"},
      {{"next", "--cron", "0 9 * * *", "--timezone", "Mars/Olympus"},
       "plexus schedule: unknown timezone 'Mars/Olympus': use an IANA name such as America/Chicago, Europe/Berlin or "
       "UTC\n"},
      {{"next", "--every", "0", "--unit", "minutes"},
       "plexus schedule: schedule 'every' must be a whole number of at least 1; got 0\n"},
      {{"next", "--every", "five", "--unit", "minutes"},
       "plexus schedule: schedule 'every' must be a whole number of at least 1; got \"five\"\n"},
      {{"next", "--every", "5", "--unit", "fortnights"},
       "plexus schedule: schedule unit 'fortnights' is not one of seconds, minutes, hours, days or weeks\n"},
  }));
  const Outcome outcome = run(arguments);
  CHECK(outcome.exitCode == 1);
  CHECK(outcome.err == message);
  CHECK(outcome.out.empty());
}

TEST_CASE("schedule next refuses misuse with a UsageError (exit 2)", "[schedule][cli][errors]") {
  auto [arguments, message] = GENERATE(table<Arguments, std::string>({
      {Arguments{}, "missing sub-command: expected 'next'; see 'plexus schedule --help'"},
      {{"list"}, "unknown sub-command 'list': expected 'next'; see 'plexus schedule --help'"},
      {{"next", "extra", "--cron", "* * * * *"}, "unexpected argument 'extra'; see 'plexus schedule --help'"},
      {{"next"}, "missing --cron \"EXPR\" or --every N --unit U; see 'plexus schedule --help'"},
      {{"next", "--cron", "* * * * *", "--every", "5"},
       "give --cron or --every with --unit, not both; see 'plexus schedule --help'"},
      {{"next", "--every", "5"}, "--every needs --unit seconds|minutes|hours|days|weeks; see 'plexus schedule --help'"},
      {{"next", "--unit", "days"}, "--unit needs --every N; see 'plexus schedule --help'"},
      {{"next", "--every", "5", "--unit", "days", "--timezone", "UTC"},
       "--timezone applies to --cron only: intervals count from the Unix epoch, in UTC"},
      {{"next", "--cron", "* * * * *", "--count", "0"}, "--count must be a whole number from 1 to 10000; got '0'"},
      {{"next", "--cron", "* * * * *", "--count", "many"}, "--count must be a whole number from 1 to 10000; got 'many'"},
      {{"next", "--cron", "* * * * *", "--from", "yesterday"},
       "--from 'yesterday' is not an ISO-8601 time such as 2026-12-01T14:05:00Z"},
      {{"next", "--cron"}, "option --cron needs a value"},
      {{"next", "--at", "9"}, "unknown option --at"},
  }));
  CHECK_THROWS_MATCHES(run(arguments), UsageError, Catch::Message(message));
}

TEST_CASE("schedule --help prints the usage", "[schedule][cli]") {
  const Outcome outcome = run({"--help"});
  CHECK(outcome.exitCode == 0);
  CHECK_THAT(outcome.out, Catch::StartsWith("usage: plexus schedule next --cron \"EXPR\""));
}
