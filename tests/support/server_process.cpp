#include "server_process.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <signal.h>
#include <sys/wait.h>

namespace plexus::testing_support {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device random;
  path_ = (fs::temp_directory_path() / ("plexus-test-" + std::to_string(random()) + std::to_string(random()))).string();
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;  // Best effort: a leftover temp folder only costs disk.
  fs::remove_all(path_, ignored);
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

namespace {
/// The build's own, unless the environment names another build: the
/// black-box tests can then judge another implementation of the contract.
std::string fromEnvironmentOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}
}  // namespace

std::string plexusBinary() { return fromEnvironmentOr("PLEXUS_TEST_BINARY", PLEXUS_BINARY); }
std::string pluginsDir() { return fromEnvironmentOr("PLEXUS_TEST_PLUGINS", PLEXUS_PLUGINS_DIR); }
std::string sourceDir() { return PLEXUS_SOURCE_DIR; }

ServerProcess::ServerProcess(const std::string& integrationsDir, const std::string& dataDir,
                             std::vector<std::string> extraArgs) {
  std::vector<std::string> args = {"serve", "--port", "0", "--host", "127.0.0.1", "--integrations",
                                   integrationsDir, "--data", dataDir};
  // The built-in plugins, unless the test brings a folder of its own.
  if (std::find(extraArgs.begin(), extraArgs.end(), "--plugins") == extraArgs.end())
    args.insert(args.end(), {"--plugins", pluginsDir()});
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  Poco::Pipe out;
  handle_ = std::make_unique<Poco::ProcessHandle>(
      Poco::Process::launch(plexusBinary(), args, nullptr, &out, &out));
  running_ = true;
  reader_ = std::thread([this, out]() mutable {
    readOutput(std::make_unique<Poco::PipeInputStream>(out));
  });
  std::regex listening("listening on [0-9.]+:([0-9]+)");
  bool ready = eventually([&] {
    std::smatch match;
    std::string text = output();
    if (!std::regex_search(text, match, listening)) return false;
    port_ = std::stoi(match[1]);
    return true;
  }, 30);
  if (ready) ready = eventually([&] {
    try {
      return http("GET", url() + "/healthz").status == 200;
    } catch (const std::exception&) {
      return false;
    }
  }, 30);
  if (!ready) {
    kill9();
    throw std::runtime_error("plexus serve did not start; its output:\n" + output());
  }
}

ServerProcess::~ServerProcess() {
  if (running_) stop();
  if (reader_.joinable()) reader_.join();
}

void ServerProcess::readOutput(std::unique_ptr<std::istream> stream) {
  std::string line;
  while (std::getline(*stream, line)) {
    std::lock_guard<std::mutex> lock(mutex_);
    output_ += line + "\n";
  }
}

int ServerProcess::pid() const { return static_cast<int>(handle_->id()); }

std::string ServerProcess::output() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return output_;
}

void ServerProcess::kill9() {
  if (!running_) return;
  ::kill(handle_->id(), SIGKILL);
  handle_->wait();
  running_ = false;
  if (reader_.joinable()) reader_.join();
}

int ServerProcess::stop() {
  if (!running_) return 0;
  ::kill(handle_->id(), SIGINT);
  int code = handle_->wait();
  running_ = false;
  if (reader_.joinable()) reader_.join();
  return code;
}

int ServerProcess::waitForExit(double seconds) {
  if (!running_) return 0;
  int code = -1;
  eventually([&] { return (code = handle_->tryWait()) != -1; }, seconds);
  if (code == -1) {
    kill9();
    return -1;
  }
  running_ = false;
  if (reader_.joinable()) reader_.join();
  return code;
}

HttpResult http(const std::string& method, const std::string& url, const std::string& body,
                const std::map<std::string, std::string>& headers) {
  Poco::URI uri(url);
  Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
  session.setTimeout(Poco::Timespan(60, 0));
  Poco::Net::HTTPRequest request(method, uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [name, value] : headers) request.set(name, value);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    request.setContentLength64(static_cast<Poco::Int64>(body.size()));
  session.sendRequest(request) << body;
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  HttpResult result;
  result.status = response.getStatus();
  for (const auto& [name, value] : response) result.headers[Poco::toLower(name)] = value;
  Poco::StreamCopier::copyToString(in, result.body);
  return result;
}

std::string shell(const std::string& command, int* status) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  char buffer[4096];
  while (std::size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  int code = pclose(pipe);
  if (status) *status = WIFEXITED(code) ? WEXITSTATUS(code) : -1;
  return output;
}

bool eventually(const std::function<bool()>& condition, double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

}  // namespace plexus::testing_support
