// The reference documentation Plexus reproduces (Prismatic's "Integration
// Triggers" page), replayed as a webhook invoker types it: each command of
// the page is quoted here as printed (the page leaves the URL blank: '';
// the test puts the instance's webhook URL there) and run with the real
// `curl` against a real `plexus serve`, once with Prismatic's header names
// and once with Plexus' own. Every curl gets --max-time, so a server that
// hangs fails the test instead of stalling it (issue 10, item 8).
#include "server_fixture.hpp"

using namespace plexus::testing_support;

namespace {

const std::string kPng = sourceDir() + "/tests/fixtures/data/taylor.png";

/// A curl that ran to its end, or not: what the invoker saw.
struct Replay {
  std::string command;
  int exit = -1;  ///< curl's exit code; 28 means --max-time passed.
  int status = 0;
  std::string headers;
  std::string body;
  std::string stderrText;  ///< curl's errors, and --verbose's trace.
};

/// How long any documented command may take; the slowest one is a
/// synchronous run of a one-step integration.
constexpr int kMaxSeconds = 10;

/// Runs the documented command with `'URL'` replaced by the webhook URL, in
/// `directory` (so `@taylor.png` resolves as the page types it), adding
/// only output capture and --max-time.
Replay replay(std::string documented, const std::string& url, const std::string& directory = "") {
  TempDir out;
  std::size_t placeholder = documented.find("''");
  REQUIRE(placeholder != std::string::npos);
  documented.replace(placeholder, 2, "'" + url + "'");
  REQUIRE(documented.compare(0, 5, "curl ") == 0);
  std::string capture = "curl --silent --show-error --max-time " + std::to_string(kMaxSeconds) + " --output '" +
                        out.file("body") + "' --dump-header '" + out.file("headers") +
                        "' --write-out '%{http_code}' ";
  Replay result;
  result.command = (directory.empty() ? "" : "cd '" + directory + "' && ") + capture + documented.substr(5) + " 2>'" +
                   out.file("stderr") + "'";
  std::string code = shell(result.command, &result.exit);
  result.status = code.empty() ? 0 : std::stoi(code);
  auto readIfThere = [](const std::string& path) {
    return std::filesystem::exists(path) ? readFile(path) : std::string();
  };
  result.headers = readIfThere(out.file("headers"));
  result.body = readIfThere(out.file("body"));
  result.stderrText = readIfThere(out.file("stderr"));
  return result;
}

#define REQUIRE_CURL_OK(replayed)                                                              \
  do {                                                                                          \
    INFO("command: " << (replayed).command);                                                    \
    INFO("curl exit " << (replayed).exit << (replayed.exit == 28 ? " (timed out: the server hung)" : "") \
                      << ", stderr: " << (replayed).stderrText);                                \
    REQUIRE((replayed).exit == 0);                                                              \
  } while (false)

// The page's commands, verbatim but for the URL ('' on the page).

const char* const kJsonPayloadCommand = R"(curl \
  --data '{"renderId":51266,"s3Bucket":"test-customer-renders","status":"complete"}' \
  --header "Content-Type: application/json" \
  '')";

const char* const kBinaryCommand = R"(curl \
  --request POST \
  --header 'Content-Type: image/png' \
  --data-binary '@/path/to/my-image.png' \
  '')";

const char* const kMultipartCommand = R"(curl \
  --request POST \
  --header "Content-Type: multipart/form-data" \
  --form person='{"firstname":"Taylor","lastname":"Reece"};type=application/json' \
  --form photo=@taylor.png \
  '')";

const char* const kSynchronousCommand = R"(curl \
  --data '{}' \
  --header "Content-Type: application/json" \
  --header "prismatic-synchronous: true" \
  --location \
  '')";

const char* const kAsynchronousHeaderCommand = R"(curl \
  --header "prismatic-synchronous: false" \
  --request POST \
  '')";

const char* const kStatusCodeCommand = R"(curl  \
   --verbose \
   --location \
   --header "prismatic-synchronous: true" \
   '')";

const char* const kExecutionIdCommand = R"(curl \
  --data '{}' \
  --header "Content-Type: application/json" \
  '')";

/// The command with Plexus' header name instead of Prismatic's.
std::string withHeader(std::string command, const std::string& headerName) {
  const std::string prismatic = "prismatic-synchronous";
  for (auto at = command.find(prismatic); at != std::string::npos; at = command.find(prismatic, at))
    command.replace(at, prismatic.size(), headerName), at += headerName.size();
  return command;
}

const char* const kHeaderNames[] = {"prismatic-synchronous", "plexus-synchronous"};

/// What the page's synchronous example prints: the final step's JSON.
const char* const kDocumentedUser =
    R"({"id":1,"name":"Leanne Graham","username":"Bret","email":"","address":{"street":"Kulas Light","suite":"Apt. 556","city":"Gwenborough","zipcode":"92998-3874","geo":{"lat":"-37.3159","lng":"81.1496"}},"phone":"1-770-736-8031 x56442","website":"","company":{"name":"Romaguera-Crona","catchPhrase":"Multi-layered client-server neural-net","bs":"harness real-time e-markets"}})";

/// Integrations shaped like the page's examples. All asynchronous by
/// default, as on the page, so the synchronous header is what changes them.
void writeDocsIntegrations(const TempDir& folder) {
  writeFile(folder.file("docs-user-lookup.yaml"), std::string(R"(name: Docs User Lookup
trigger: { webhook: {} }
steps:
  - name: user
    component: json
    action: value
    inputs:
      value: )") + kDocumentedUser + "\n");
  writeFile(folder.file("docs-binary.yaml"), R"(name: Docs Binary
trigger: { webhook: {} }
steps:
  - name: file
    component: json
    action: value
    inputs: { value: "{{ trigger.results.body.data }}" }
  - name: info
    component: binary
    action: info
    inputs: { data: "{{ trigger.results.body.data }}" }
)");
  writeFile(folder.file("docs-multipart.yaml"), R"(name: Docs Multipart
trigger: { webhook: {} }
steps:
  - name: firstname
    component: json
    action: value
    inputs: { value: "{{ trigger.results.body.data.person.data.firstname }}" }
  - name: photo
    component: json
    action: value
    inputs: { value: "{{ trigger.results.body.data.photo.data }}" }
  - name: info
    component: binary
    action: info
    inputs: { data: "{{ trigger.results.body.data.photo.data }}" }
)");
  writeFile(folder.file("docs-unsupported.yaml"), R"(name: Docs Unsupported
trigger: { webhook: {} }
steps:
  - name: stop
    component: stop-execution
    action: stop
    inputs: { statusCode: 415 }
)");
  writeFile(folder.file("docs-synchronous.yaml"), R"(name: Docs Synchronous
trigger: { webhook: {} }
execution: { synchronous: true }
steps:
  - name: echo
    component: json
    action: value
    inputs: { value: "{{ trigger.results.body.data }}" }
)");
}

struct DocsServer {
  ServerFolders folders;
  std::unique_ptr<ServerProcess> server;
  DocsServer() {
    writeDocsIntegrations(folders.integrations);
    server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path());
  }
  std::string url(const std::string& integration) const { return webhookUrl(*server, integration); }
  json get(const std::string& path) const { return parse(http("GET", server->url() + path).body); }
};

std::string sha256Of(const std::string& path) {
  return shell("sha256sum '" + path + "' | cut -d' ' -f1").substr(0, 64);
}

std::string executionIdOf(const Replay& replayed) {
  INFO(replayed.body);
  json body = parse(replayed.body);
  REQUIRE(body.contains("executionId"));
  std::string id = body["executionId"];
  CHECK_THAT(replayed.headers, Catch::Contains("plexus-execution-id: " + id));
  return id;
}

}  // namespace

TEST_CASE("docs: `prism instances:list --extended --output json` has a plexus twin listing webhook URLs",
          "[docs][conformance][cli]") {
  DocsServer docs;
  int exit = -1;
  std::string out = shell("'" + plexusBinary() + "' instances:list --extended --output json --server " +
                              docs.server->url() + " 2>&1",
                          &exit);
  INFO(out);
  REQUIRE(exit == 0);
  json instances = parse(out);
  bool listed = false;
  for (const auto& instance : instances)
    if (instance["integration"] == "docs-user-lookup")
      listed = instance["webhookUrl"].get<std::string>().rfind(docs.server->url() + "/trigger/", 0) == 0;
  CHECK(listed);
}

TEST_CASE("docs: a JSON payload posted with --data runs asynchronously and its fields reach the steps",
          "[docs][conformance]") {
  DocsServer docs;
  Replay replayed = replay(kJsonPayloadCommand, docs.url("render-status"));
  REQUIRE_CURL_OK(replayed);
  CHECK(replayed.status == 200);
  CHECK_THAT(replayed.headers, Catch::Contains("Content-Type: application/json"));
  std::string id = executionIdOf(replayed);
  json execution = waitForEnd(*docs.server, id);
  CHECK(execution["status"] == "succeeded");
  CHECK(docs.get("/api/executions/" + id + "/steps/lookup/result") == 51266);
  CHECK(docs.get("/executions/" + id + "/result") == json{{"renderId", 51266}, {"bucket", "test-renders"}});
}

TEST_CASE("docs: binary data posted with --data-binary arrives byte for byte as trigger.results.body.data",
          "[docs][conformance][binary]") {
  DocsServer docs;
  std::string command = kBinaryCommand;
  command.replace(command.find("/path/to/my-image.png"), 21, kPng);
  Replay replayed = replay(command, docs.url("docs-binary"));
  REQUIRE_CURL_OK(replayed);
  CHECK(replayed.status == 200);
  std::string id = executionIdOf(replayed);
  json execution = waitForEnd(*docs.server, id);
  CHECK(execution["status"] == "succeeded");
  HttpResult file = http("GET", docs.server->url() + "/api/executions/" + id + "/steps/file/result");
  CHECK(file.status == 200);
  CHECK(file.header("content-type") == "image/png");
  CHECK(file.body == readFile(kPng));
  json info = docs.get("/api/executions/" + id + "/steps/info/result");
  CHECK(info["contentType"] == "image/png");
  CHECK(info["size"] == readFile(kPng).size());
  CHECK(info["sha256"] == sha256Of(kPng));
}

TEST_CASE("docs: multipart/form-data with a JSON part and a file part reaches the steps typed",
          "[docs][conformance][multipart]") {
  DocsServer docs;
  Replay replayed = replay(kMultipartCommand, docs.url("docs-multipart"), sourceDir() + "/tests/fixtures/data");
  REQUIRE_CURL_OK(replayed);
  CHECK(replayed.status == 200);
  std::string id = executionIdOf(replayed);
  json execution = waitForEnd(*docs.server, id);
  CHECK(execution["status"] == "succeeded");
  HttpResult firstname = http("GET", docs.server->url() + "/api/executions/" + id + "/steps/firstname/result");
  CHECK(firstname.body == "Taylor");  // A string result is served as text/plain.
  CHECK_THAT(firstname.header("content-type"), Catch::StartsWith("text/plain"));
  HttpResult photo = http("GET", docs.server->url() + "/api/executions/" + id + "/steps/photo/result");
  CHECK(photo.status == 200);
  CHECK(photo.header("content-type") == "image/png");
  CHECK(photo.body == readFile(kPng));
  json info = docs.get("/api/executions/" + id + "/steps/info/result");
  CHECK(info["sha256"] == sha256Of(kPng));
}

TEST_CASE("docs: the synchronous header with --location gets the final step's JSON, as printed on the page",
          "[docs][conformance][sync]") {
  DocsServer docs;
  for (const char* header : kHeaderNames) {
    DYNAMIC_SECTION("header " << header) {
      Replay replayed = replay(withHeader(kSynchronousCommand, header), docs.url("docs-user-lookup"));
      REQUIRE_CURL_OK(replayed);
      CHECK(replayed.status == 200);
      CHECK_THAT(replayed.headers, Catch::Contains("303 See Other"));
      CHECK_THAT(replayed.headers, Catch::Contains("Location: " + docs.server->url() + "/executions/"));
      CHECK_THAT(replayed.headers, Catch::Contains("plexus-execution-id: "));
      CHECK(parse(replayed.body) == parse(kDocumentedUser));
    }
  }
}

TEST_CASE("docs: `--header \"prismatic-synchronous: false\" --request POST` with no data is answered at once",
          "[docs][conformance][sync][framing]") {
  // No --data: curl sends neither Content-Length nor Transfer-Encoding, so
  // the body is empty (RFC 9112 §6.3, CONTRACT §8); today it waits 60 s.
  DocsServer docs;
  for (const char* header : kHeaderNames) {
    DYNAMIC_SECTION("header " << header) {
      Replay replayed = replay(withHeader(kAsynchronousHeaderCommand, header), docs.url("docs-synchronous"));
      REQUIRE_CURL_OK(replayed);
      CHECK(replayed.status == 200);
      std::string id = executionIdOf(replayed);
      json execution = waitForEnd(*docs.server, id);
      CHECK(execution["status"] == "succeeded");
      HttpResult result = http("GET", docs.server->url() + "/executions/" + id + "/result");
      CHECK(result.status == 200);
      CHECK(result.body == "null");
    }
  }
}

TEST_CASE("docs: a synchronous call ending in a Stop Execution step answers its status code, no redirect",
          "[docs][conformance][sync]") {
  DocsServer docs;
  for (const char* header : kHeaderNames) {
    DYNAMIC_SECTION("header " << header) {
      Replay replayed = replay(withHeader(kStatusCodeCommand, header), docs.url("docs-unsupported"));
      REQUIRE_CURL_OK(replayed);
      CHECK(replayed.status == 415);
      CHECK_THAT(replayed.stderrText, Catch::Contains("< HTTP/1.1 415"));
      CHECK_THAT(replayed.headers, !Catch::Contains("Location:"));
      CHECK_THAT(replayed.headers, Catch::Contains("plexus-execution-id: "));
      CHECK(replayed.body.empty());
    }
  }
}

TEST_CASE("docs: an asynchronous call gets an executionId to exchange later for logs and step results",
          "[docs][conformance]") {
  DocsServer docs;
  Replay replayed = replay(kExecutionIdCommand, docs.url("docs-user-lookup"));
  REQUIRE_CURL_OK(replayed);
  CHECK(replayed.status == 200);
  std::string id = executionIdOf(replayed);
  json execution = waitForEnd(*docs.server, id);
  CHECK(execution["status"] == "succeeded");
  CHECK(execution["id"] == id);
  CHECK(execution["steps"].size() == 1);
  CHECK(execution["logs"].is_array());
  CHECK(docs.get("/api/executions/" + id + "/steps/user/result") == parse(kDocumentedUser));
  CHECK(docs.get("/executions/" + id + "/result") == parse(kDocumentedUser));
}
