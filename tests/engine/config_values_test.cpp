#include <catch2/catch.hpp>

#include "engine/config_values.hpp"

using namespace plexus::core;
using plexus::Json;

namespace {
IntegrationSpec integrationWithSecret() {
  IntegrationSpec spec;
  spec.key = "crm";
  spec.configVars = {{"region", plexus::InputType::String, Json("eu"), false, "", ""},
                     {"apiKey", plexus::InputType::Secret, std::nullopt, true, "", ""}};
  spec.instances = {{"acme", Json{{"apiKey", "s3cr3t-acme"}}, true}};
  return spec;
}
}  // namespace

TEST_CASE("effective config vars layer defaults, the file's values and API overrides", "[engine][config]") {
  IntegrationSpec spec = integrationWithSecret();
  InstanceRecord instance;
  instance.name = "acme";
  CHECK(effectiveConfigVars(spec, instance) == Json{{"region", "eu"}, {"apiKey", "s3cr3t-acme"}});
  instance.configVars = {{"region", "us"}};
  CHECK(effectiveConfigVars(spec, instance) == Json{{"region", "us"}, {"apiKey", "s3cr3t-acme"}});
}

TEST_CASE("secrets are masked in output and redacted from text", "[engine][config]") {
  IntegrationSpec spec = integrationWithSecret();
  Json values = {{"region", "eu"}, {"apiKey", "s3cr3t-acme"}};
  CHECK(maskSecrets(spec, values) == Json{{"region", "eu"}, {"apiKey", "********"}});
  auto secrets = secretValues(spec, values);
  REQUIRE(secrets == std::vector<std::string>{"s3cr3t-acme"});
  CHECK(redact("key s3cr3t-acme and s3cr3t-acme again", secrets) == "key ******** and ******** again");
}

TEST_CASE("a secret inside a longer secret does not leave the rest of the longer one showing", "[engine][config]") {
  CHECK(redact("token abcdef", {"abc", "abcdef"}) == "token ********");
}
