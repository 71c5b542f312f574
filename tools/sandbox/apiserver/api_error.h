// ApiError: a Kubernetes API failure (HTTP code + reason + message) and its metav1.Status JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace petrel::apiserver {

struct ApiError {
  int code = 500;
  std::string reason;   // "NotFound", "AlreadyExists", "Conflict", "Invalid", "BadRequest", ...
  std::string message;  // what a human reads, e.g. `pods "web" not found`
  std::string kind;     // details.kind (plural resource name as k8s reports it), optional
  std::string name;     // details.name, optional
  std::string group;    // details.group, optional

  // The metav1.Status object for this error.
  nlohmann::json toStatus() const;
};

ApiError badRequest(std::string message);
ApiError notFound(const std::string& resource, const std::string& group, const std::string& name);
ApiError alreadyExists(const std::string& resource, const std::string& group,
                       const std::string& name);
ApiError conflict(const std::string& resource, const std::string& group, const std::string& name,
                  const std::string& why);
ApiError invalid(const std::string& kind, const std::string& group, const std::string& name,
                 const std::string& causes);
ApiError expired(std::string message);

// A successful metav1.Status (e.g. for deletes that return no object).
nlohmann::json successStatus(const std::string& resource, const std::string& group,
                             const std::string& name);

}  // namespace petrel::apiserver
