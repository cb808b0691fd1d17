#include "server/serve_application.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/PatternFormatter.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include "engine/crash_handler.hpp"
#include "server/http_server.hpp"
#include "server/runtime.hpp"

namespace plexus::core {

namespace {

/// http://HOST:PORT, with an IPv6 host in brackets and a wildcard host
/// replaced by loopback (a URL naming 0.0.0.0 reaches nobody).
std::string defaultPublicUrl(std::string host, int port) {
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port);
}

class ServeApplication : public Poco::Util::ServerApplication {
 protected:
  void defineOptions(Poco::Util::OptionSet& options) override {
    ServerApplication::defineOptions(options);
    options.addOption(Poco::Util::Option("help", "h", "show the flags").required(false).repeatable(false));
    options.addOption(Poco::Util::Option("config", "", "settings file (default ./plexus.yaml)")
                          .required(false).argument("FILE"));
    for (const std::string& name : settingNames())
      options.addOption(Poco::Util::Option(name, "", "see README: Configuration")
                            .required(false)
                            .argument("VALUE", !isSwitchSetting(name)));
  }

  void handleOption(const std::string& name, const std::string& value) override {
    ServerApplication::handleOption(name, value);
    if (name == "help") {
      Poco::Util::HelpFormatter help(options());
      help.setCommand("plexus serve");
      help.setUnixStyle(true);
      help.setHeader("Flags, each also a PLEXUS_* env var and a plexus.yaml key:");
      help.format(std::cout);
      helpRequested_ = true;
      stopOptionsProcessing();
    } else if (name == "config") {
      configFile_ = value;
    } else {
      flags_[name] = value;
    }
  }

  int main(const std::vector<std::string>&) override {
    if (helpRequested_) return EXIT_OK;
    // First: a component that crashes the process while it loads or runs
    // still leaves a line saying where (engine/crash_handler.hpp).
    installFatalSignalHandlers();
    setUpLogging();
    Poco::Logger& log = Poco::Logger::get("plexus");
    ServerSettings settings;
    try {
      settings = resolveSettings(flags_, configFile_);
    } catch (const std::exception& error) {
      log.fatal(std::string("invalid setting: ") + error.what());
      return EXIT_CONFIG;
    }
    // Every connection is a descriptor: take all the hard limit allows.
    long openFiles = raiseOpenFileLimit();
    // 256 descriptors stay for the store, spool files, plugins and logs.
    if (openFiles > 0 && openFiles < settings.maxConnections + 256) {
      int capped = static_cast<int>(std::max(16L, openFiles - 256));
      log.warning("the open-files limit is %ld, too low for --max-connections %d: using %d (raise the limit "
                  "with ulimit -Hn or systemd's LimitNOFILE=)",
                  openFiles, settings.maxConnections, capped);
      settings.maxConnections = capped;
    }
    std::unique_ptr<Runtime> runtime;
    std::unique_ptr<HttpServer> server;
    try {
      runtime = Runtime::start(settings);
      server = std::make_unique<HttpServer>(*runtime, settings);
    } catch (const std::exception& error) {
      log.fatal(std::string("cannot start: ") + error.what());
      return EXIT_SOFTWARE;
    }
    // Set before the first request can read it.
    std::string publicUrl = settings.publicUrl.empty() ? defaultPublicUrl(settings.host, server->port())
                                                       : settings.publicUrl;
    while (!publicUrl.empty() && publicUrl.back() == '/') publicUrl.pop_back();
    runtime->setPublicUrl(publicUrl);
    server->start();
    log.information("plexus listening on %s:%d (public URL %s), data in %s", settings.host, server->port(),
                    publicUrl, settings.dataDir);
    for (const auto& instance : runtime->store().instances())
      if (!instance.webhookToken.empty())
        log.information("  %s / %s: %s", instance.integrationKey, instance.name, runtime->webhookUrl(instance));
    waitForTerminationRequest();
    // Intake stops first; running executions get the grace, and synchronous
    // callers their result if the run ends within it (else a 503); only
    // then do the connections close.
    log.information("stopping: no new connections; running executions have %d s (--shutdown-grace)",
                    settings.shutdownGraceSeconds);
    server->stopAccepting();
    int leftBehind = runtime->stop(std::chrono::seconds(settings.shutdownGraceSeconds));
    server->stop();
    if (leftBehind > 0) {
      // Those threads are inside a component's code: unloading it (the
      // runtime's destructor, static destructors) would crash them. The
      // store has recorded everything; they resume after the restart.
      log.warning("exiting with %d step(s) still running; they resume after the restart", leftBehind);
      runtime->closeStoreForExit();
      std::fflush(nullptr);
      std::_Exit(EXIT_OK);
    }
    return EXIT_OK;
  }

 private:
  void setUpLogging() {
    Poco::AutoPtr<Poco::PatternFormatter> format(new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %q %s: %t"));
    Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(format, new Poco::ConsoleChannel));
    Poco::Logger::root().setChannel(channel);
    Poco::Logger::root().setLevel(Poco::Message::PRIO_INFORMATION);
  }

  std::map<std::string, std::string> flags_;
  std::string configFile_ = "plexus.yaml";
  bool helpRequested_ = false;
};

}  // namespace

int runServeApplication(int argc, char** argv) {
  ServeApplication app;
  return app.run(argc, argv);
}

}  // namespace plexus::core
