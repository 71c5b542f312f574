// metav1.Status builders for the API server's error answers.
#include "tools/sandbox/apiserver/api_error.h"

namespace petrel::apiserver {

using nlohmann::json;

json ApiError::toStatus() const {
  json s = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason},
            {"code", code}};
  if (!name.empty() || !kind.empty()) {
    json d = json::object();
    if (!name.empty()) d["name"] = name;
    if (!group.empty()) d["group"] = group;
    if (!kind.empty()) d["kind"] = kind;
    // kubectl prints an Invalid error's causes, not its message: give the one cause
    // ("<field>: <why>") that invalid() put after "is invalid: ".
    const std::string marker = " is invalid: ";
    if (auto at = message.find(marker); reason == "Invalid" && at != std::string::npos) {
      std::string cause = message.substr(at + marker.size());
      auto colon = cause.find(": ");
      json c = {{"reason", "FieldValueInvalid"}, {"message", cause}};
      if (colon != std::string::npos) {
        c["field"] = cause.substr(0, colon);
        c["message"] = cause.substr(colon + 2);
      }
      d["causes"] = json::array({c});
    }
    s["details"] = d;
  }
  return s;
}

static std::string qualified(const std::string& resource, const std::string& group) {
  return group.empty() ? resource : resource + "." + group;
}

ApiError badRequest(std::string message) {
  return ApiError{400, "BadRequest", std::move(message), "", "", ""};
}

ApiError notFound(const std::string& resource, const std::string& group, const std::string& name) {
  return ApiError{404,      "NotFound", qualified(resource, group) + " \"" + name + "\" not found",
                  resource, name,       group};
}

ApiError alreadyExists(const std::string& resource, const std::string& group,
                       const std::string& name) {
  return ApiError{409,
                  "AlreadyExists",
                  qualified(resource, group) + " \"" + name + "\" already exists",
                  resource,
                  name,
                  group};
}

ApiError conflict(const std::string& resource, const std::string& group, const std::string& name,
                  const std::string& why) {
  return ApiError{409,
                  "Conflict",
                  "Operation cannot be fulfilled on " + qualified(resource, group) + " \"" + name +
                      "\": " + why,
                  resource,
                  name,
                  group};
}

ApiError invalid(const std::string& kind, const std::string& group, const std::string& name,
                 const std::string& causes) {
  return ApiError{
      422,  "Invalid", qualified(kind, group) + " \"" + name + "\" is invalid: " + causes,
      kind, name,      group};
}

ApiError expired(std::string message) {
  return ApiError{410, "Expired", std::move(message), "", "", ""};
}

json successStatus(const std::string& resource, const std::string& group, const std::string& name) {
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", json::object()},
          {"status", "Success"},
          {"details", {{"name", name}, {"group", group}, {"kind", resource}}}};
}

}  // namespace petrel::apiserver
