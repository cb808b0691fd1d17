// The webhook-auth triggers on hostile signature headers and bodies: Stripe's
// `t=…,v1=…` list, Slack's timestamp, GitHub's and the generic hex/base64
// signatures, Basic credentials (base64), API keys. Each input must end in a
// run, a TriggerRefusal, or std::invalid_argument for a bad configuration;
// nothing else, and no crash.
//
// Input: byte 0 picks the scheme; the rest is "HEADER-VALUE\nBODY".
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <plexus/sdk.hpp>

// Defined by the component source compiled in (PLEXUS_COMPONENT).
extern "C" void plexus_register_components(plexus::ComponentRegistrar*);

namespace {

class Collect : public plexus::ComponentRegistrar {
 public:
  void add(plexus::ComponentSpec component) override { components.push_back(std::move(component)); }
  std::vector<plexus::ComponentSpec> components;
};

class Context : public plexus::TriggerContext {
 public:
  const std::string& instanceId() const override { return id_; }
  const std::string& instanceName() const override { return id_; }
  const plexus::Json& configVars() const override { return config_; }
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  }

 private:
  std::string id_ = "fuzz";
  plexus::Json config_ = plexus::Json::object();
};

const plexus::ComponentSpec& component() {
  static const plexus::ComponentSpec spec = [] {
    Collect collect;
    plexus_register_components(&collect);
    return collect.components.at(0);
  }();
  return spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t newline = rest.find('\n');
  const std::string header = rest.substr(0, newline);
  const std::string body = newline == std::string::npos ? "" : rest.substr(newline + 1);

  struct Case {
    const char* trigger;
    const char* header;
    plexus::Json inputs;
  };
  static const std::vector<Case> cases = {
      {"hmac", "x-hub-signature-256", {{"preset", "github"}, {"secret", "s"}}},
      {"hmac", "stripe-signature", {{"preset", "stripe"}, {"secret", "s"}}},
      {"hmac", "x-slack-signature", {{"preset", "slack"}, {"secret", "s"}}},
      {"hmac", "x-shopify-hmac-sha256", {{"preset", "shopify"}, {"secret", "s"}}},
      {"hmac", "x-sig", {{"preset", "generic"}, {"secret", "s"}, {"header", "x-sig"}, {"encoding", "base64"}}},
      {"api-key", "authorization", {{"value", "k"}, {"header", "authorization"}}},
      {"basic", "authorization", {{"username", "u"}, {"password", "p"}}},
  };
  const Case& chosen = cases[data[0] % cases.size()];
  plexus::WebhookRequest request;
  request.method = "POST";
  request.headers[chosen.header] = header;
  // Slack's timestamp comes from the header too: the same bytes, so the
  // fuzzer reaches the timestamp parsing and the signature check.
  request.headers["x-slack-request-timestamp"] = header.substr(0, 20);
  request.rawBody = plexus::Binary(body, "application/octet-stream");
  const plexus::TriggerSpec* trigger = component().trigger(chosen.trigger);
  Context context;
  try {
    (void)trigger->perform(request, trigger->prepareInputs(chosen.inputs), context);
  } catch (const plexus::TriggerRefusal& refusal) {
    if (refusal.status() != 401) __builtin_trap();  // every refusal of these schemes is a 401
  }
  return 0;
}
