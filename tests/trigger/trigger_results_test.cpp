// trigger.results as CONTRACT §4 and §5 spell them, from the one builder.
#include <catch2/catch.hpp>

#include "trigger/trigger_results.hpp"

using namespace plexus::core;
using plexus::Json;

namespace {
InstanceRecord instance() { return InstanceRecord{"i-1", "orders", "acme", true, Json::object(), "tok", {}}; }
IntegrationSpec integration() {
  IntegrationSpec spec;
  spec.key = "orders";
  spec.name = "Orders";
  return spec;
}
}  // namespace

TEST_CASE("schedule trigger results hold scheduledAt and startedAt, the execution, instance and integration",
          "[trigger]") {
  Json results = scheduleTriggerResults("2026-12-03T14:25:00.000Z", "2026-12-03T14:25:00.000Z", "e-1", instance(),
                                        integration());
  CHECK(results == Json{{"scheduledAt", "2026-12-03T14:25:00.000Z"},
                        {"startedAt", "2026-12-03T14:25:00.000Z"},
                        {"executionId", "e-1"},
                        {"instance", {{"id", "i-1"}, {"name", "acme"}}},
                        {"integration", {{"key", "orders"}, {"name", "Orders"}}}});
}

TEST_CASE("webhook trigger results carry the request, its parsed and its raw body", "[trigger]") {
  WebhookRequestParts parts{"POST",
                            Json{{"content-type", "application/json"}},
                            Json{{"page", "2"}},
                            Json{{"renderId", 7}},
                            "application/json",
                            plexus::Binary("{\"renderId\":7}", "application/json"),
                            "http://localhost/trigger/tok"};
  Json results = webhookTriggerResults(std::move(parts), "e-2", "2026-12-03T14:25:00.000Z", instance(), integration());
  CHECK(results["method"] == "POST");
  CHECK(results["headers"] == Json{{"content-type", "application/json"}});
  CHECK(results["queryParameters"] == Json{{"page", "2"}});
  CHECK(results["body"] == Json{{"data", {{"renderId", 7}}}, {"contentType", "application/json"}});
  REQUIRE(results["rawBody"]["data"].is_binary());
  CHECK(results["rawBody"]["contentType"] == "application/json");
  CHECK(results["webhookUrl"] == "http://localhost/trigger/tok");
  CHECK(results["executionId"] == "e-2");
  CHECK(results["startedAt"] == "2026-12-03T14:25:00.000Z");
  CHECK(results["instance"] == Json{{"id", "i-1"}, {"name", "acme"}});
  CHECK(results["integration"] == Json{{"key", "orders"}, {"name", "Orders"}});
}
