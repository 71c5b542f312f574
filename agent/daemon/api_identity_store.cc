// PetrelIdentity objects read and created through the API server.
#include "agent/daemon/api_identity_store.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace petrel::agent {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kCollection = "/apis/petrel.io/v1alpha1/petrelidentities";

// An HTTP answer that is not the one expected, as an error that says what to do about it.
Status unexpected(const std::string& what, const k8s::HttpResponse& r) {
  const Code code = r.status == 401 || r.status == 403 ? Code::kPermissionDenied
                    : r.status == 404                  ? Code::kFailedPrecondition
                                                       : Code::kUnavailable;
  const std::string hint =
      r.status == 401 || r.status == 403
          ? " (the agent's RBAC needs get and create on petrelidentities.petrel.io)"
      : r.status == 404 ? " (is the PetrelIdentity CRD installed? petrel-operator installs it)"
                        : "";
  return makeError(code, "{}: HTTP {}{}: {}", what, r.status, hint, r.body.substr(0, 200));
}

}  // namespace

Result<core::SecurityLabels> ApiIdentityStore::labelsOf(uint32_t number) {
  const std::string what = fmt::format("GET PetrelIdentity {}", number);
  auto r = client_.get(fmt::format("{}/{}", kCollection, number), 10s);
  if (!r) return r.status();
  if (r->status == 404) {
    // Either no such identity or no such resource: only the first has a Status of kind NotFound
    // naming petrelidentities.
    const json body = json::parse(r->body, nullptr, false);
    if (body.is_object() && body.value("reason", "") == "NotFound" &&
        body.value("/details/kind"_json_pointer, "") == "petrelidentities") {
      return makeError(Code::kNotFound, "no PetrelIdentity {}", number);
    }
  }
  if (r->status != 200) return unexpected(what, *r);
  const json body = json::parse(r->body, nullptr, false);
  const json& labels = body.is_object() ? body.value("securityLabels", json()) : json();
  if (!labels.is_object()) return makeError(Code::kInvalidArgument, "{}: no securityLabels", what);
  core::SecurityLabels out;
  for (const auto& [key, value] : labels.items()) {
    if (!value.is_string()) {
      return makeError(Code::kInvalidArgument, "{}: securityLabels[{}] is not a string", what, key);
    }
    out[key] = value.get<std::string>();
  }
  return out;
}

Result<bool> ApiIdentityStore::create(uint32_t number, const core::SecurityLabels& labels) {
  const json object = {{"apiVersion", "petrel.io/v1alpha1"},
                       {"kind", "PetrelIdentity"},
                       {"metadata", {{"name", std::to_string(number)}}},
                       {"securityLabels", labels}};
  auto r = client_.send("POST", kCollection, object.dump(), 10s);
  if (!r) return r.status();
  if (r->status == 201 || r->status == 200) return true;
  if (r->status == 409) return false;
  return unexpected(fmt::format("create PetrelIdentity {}", number), *r);
}

}  // namespace petrel::agent
