#include "server/http_reply.hpp"

#include <vector>

#include <nlohmann/detail/output/serializer.hpp>

namespace plexus::core {

namespace {

plexus::Json describeBinary(const plexus::Binary& binary) {
  return plexus::Json{{"$binary", {{"contentType", binary.contentType()}, {"size", binary.size()}}}};
}

/// Writes JSON iteratively: containers are walked with an explicit stack;
/// leaves (and the small description of a binary) go through nlohmann's own
/// serializer, so numbers and escapes are exactly what dump() writes.
class IterativeJsonWriter {
 public:
  explicit IterativeJsonWriter(std::string& out)
      : out_(out),
        leaves_(nlohmann::detail::output_adapter<char, std::string>(out), ' ',
                plexus::Json::error_handler_t::replace) {}

  void write(const plexus::Json& root) {
    open(root);
    while (!stack_.empty()) {
      Frame& top = stack_.back();
      const plexus::Json* child = nullptr;
      if (top.value->is_object()) {
        if (top.object == top.value->get_ref<const plexus::Json::object_t&>().end()) {
          out_ += '}';
          stack_.pop_back();
          continue;
        }
        if (!top.first) out_ += ',';
        key_.get_ref<std::string&>() = top.object->first;
        leaves_.dump(key_, false, false, 0);
        out_ += ':';
        child = &top.object->second;
        ++top.object;
      } else {
        if (top.array == top.value->get_ref<const plexus::Json::array_t&>().end()) {
          out_ += ']';
          stack_.pop_back();
          continue;
        }
        if (!top.first) out_ += ',';
        child = &*top.array;
        ++top.array;
      }
      top.first = false;
      open(*child);  // May grow stack_: `top` is not used after this.
    }
  }

 private:
  struct Frame {
    const plexus::Json* value;
    plexus::Json::object_t::const_iterator object;
    plexus::Json::array_t::const_iterator array;
    bool first = true;
  };

  void open(const plexus::Json& value) {
    if (value.is_binary()) {
      leaves_.dump(describeBinary(plexus::asBinary(value)), false, false, 0);
    } else if (value.is_object()) {
      out_ += '{';
      Frame frame{&value, value.get_ref<const plexus::Json::object_t&>().begin(), {}};
      stack_.push_back(frame);
    } else if (value.is_array()) {
      out_ += '[';
      Frame frame{&value, {}, value.get_ref<const plexus::Json::array_t&>().begin()};
      stack_.push_back(frame);
    } else {
      leaves_.dump(value, false, false, 0);
    }
  }

  std::string& out_;
  nlohmann::detail::serializer<plexus::Json> leaves_;
  plexus::Json key_ = std::string();
  std::vector<Frame> stack_;
};

void sendData(HttpResponse& response, int status, const plexus::Json& data) {
  if (data.is_binary()) {
    sendBinary(response, status, plexus::asBinary(data));
  } else if (data.is_string()) {
    sendBytes(response, status, "text/plain; charset=utf-8", data.get_ref<const std::string&>());
  } else {
    sendJson(response, status, data);
  }
}

}  // namespace

void sendBytes(HttpResponse& response, int status, const std::string& contentType, std::string_view bytes) {
  response.status = status;
  response.headers.set("Content-Type", contentType);
  response.binaryBody.reset();
  response.body.assign(bytes.data(), bytes.size());
}

void sendBinary(HttpResponse& response, int status, const plexus::Binary& binary) {
  response.status = status;
  response.headers.set("Content-Type", binary.contentType());
  response.body.clear();
  response.binaryBody = binary;
}

void sendJson(HttpResponse& response, int status, const plexus::Json& body) {
  response.status = status;
  response.headers.set("Content-Type", "application/json");
  response.binaryBody.reset();
  response.body = responseJson(body);
}

void sendError(HttpResponse& response, int status, const std::string& message) {
  sendJson(response, status, plexus::Json{{"error", message}});
}

std::string responseJson(const plexus::Json& value) {
  std::string out;
  IterativeJsonWriter(out).write(value);
  return out;
}

plexus::Json describeBinaries(const plexus::Json& value) {
  // Each task fills `to` from `from`; children of a container become tasks
  // of their own. Map nodes and reserved vector elements do not move while
  // their siblings are added, so the pointers stay valid.
  struct Task {
    const plexus::Json* from;
    plexus::Json* to;
  };
  plexus::Json out;
  std::vector<Task> tasks{{&value, &out}};
  while (!tasks.empty()) {
    Task task = tasks.back();
    tasks.pop_back();
    const plexus::Json& from = *task.from;
    if (from.is_binary()) {
      *task.to = describeBinary(plexus::asBinary(from));
    } else if (from.is_object()) {
      *task.to = plexus::Json::object();
      auto& object = task.to->get_ref<plexus::Json::object_t&>();
      for (const auto& [key, item] : from.get_ref<const plexus::Json::object_t&>())
        tasks.push_back({&item, &object[key]});
    } else if (from.is_array()) {
      *task.to = plexus::Json::array();
      auto& array = task.to->get_ref<plexus::Json::array_t&>();
      const auto& items = from.get_ref<const plexus::Json::array_t&>();
      array.resize(items.size());
      for (std::size_t i = 0; i < items.size(); ++i) tasks.push_back({&items[i], &array[i]});
    } else {
      *task.to = from;
    }
  }
  return out;
}

std::size_t servedSize(const plexus::Json& data) {
  if (data.is_binary()) return plexus::asBinary(data).size();
  if (data.is_string()) return data.get_ref<const std::string&>().size();
  return responseJson(data).size();
}

std::string responseLimitMessage(std::size_t size, std::int64_t maxBytes) {
  return "the final step's output is " + std::to_string(size) +
         " bytes, over the response limit of " + std::to_string(maxBytes) +
         " bytes (raise it with --max-response-bytes)";
}

void sendStoredResult(HttpResponse& response, const StoredResult& result, std::int64_t maxBytes) {
  if (result.isStatus) {
    const auto& status = result.status;
    std::size_t size = status.body ? servedSize(*status.body) : 0;
    if (static_cast<std::int64_t>(size) > maxBytes)
      return sendError(response, 500, responseLimitMessage(size, maxBytes));
    bool hasContentType = false;
    for (const auto& [name, value] : status.headers) {
      response.headers.set(name, value);
      if (equalsIgnoringCase(name, "content-type")) hasContentType = true;
    }
    if (status.statusCode < 200)
      return sendError(response, 500, "a reply of status " + std::to_string(status.statusCode) +
                                          " is not a final HTTP response; use 200-599");
    response.status = status.statusCode;
    if (!status.body || status.statusCode == 204 || status.statusCode == 304) {
      response.body.clear();
      return;
    }
    if (hasContentType && status.body->is_string()) {
      response.body = status.body->get_ref<const std::string&>();
      return;
    }
    return sendData(response, status.statusCode, *status.body);
  }
  if (!result.data.is_binary() && !result.data.is_string()) {
    std::string text = responseJson(result.data);  // Once, for both the size check and the reply.
    if (static_cast<std::int64_t>(text.size()) > maxBytes)
      return sendError(response, 500, responseLimitMessage(text.size(), maxBytes));
    response.status = 200;
    response.headers.set("Content-Type", "application/json");
    response.body = std::move(text);
    return;
  }
  std::size_t size = servedSize(result.data);
  if (static_cast<std::int64_t>(size) > maxBytes)
    return sendError(response, 500, responseLimitMessage(size, maxBytes));
  sendData(response, 200, result.data);
}

}  // namespace plexus::core
