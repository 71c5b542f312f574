// OpenAPI v3 root and per-group-version documents (operations only, no schemas).
#include "tools/sandbox/apiserver/openapi.h"

#include <functional>

namespace petrel::apiserver {

using nlohmann::json;

namespace {

std::string gvPath(const std::string& group, const std::string& version) {
  return group.empty() ? "api/" + version : "apis/" + group + "/" + version;
}

json operation(const ResourceType& t, const std::string& action, bool writes) {
  json op = {{"operationId", action + t.kind},
             {"x-kubernetes-action", action},
             {"x-kubernetes-group-version-kind",
              {{"group", t.group}, {"version", t.version}, {"kind", t.kind}}},
             {"responses", {{"200", {{"description", "OK"}}}}}};
  json params = json::array();
  if (writes) {
    params.push_back(
        {{"name", "fieldValidation"}, {"in", "query"}, {"schema", {{"type", "string"}}}});
    params.push_back({{"name", "dryRun"}, {"in", "query"}, {"schema", {{"type", "string"}}}});
  }
  op["parameters"] = params;
  return op;
}

}  // namespace

std::optional<json> openapiGroupVersion(const Registry& registry, const std::string& group,
                                        const std::string& version) {
  json paths = json::object();
  bool any = false;
  for (const auto& t : registry.all()) {
    if (t.group != group || t.version != version) continue;
    any = true;
    std::string base = "/" + gvPath(group, version) + "/";
    std::string coll = base + (t.namespaced ? "namespaces/{namespace}/" : "") + t.plural;
    paths[coll] = {{"get", operation(t, "list", false)}, {"post", operation(t, "post", true)}};
    paths[coll + "/{name}"] = {{"get", operation(t, "get", false)},
                               {"put", operation(t, "put", true)},
                               {"patch", operation(t, "patch", true)},
                               {"delete", operation(t, "delete", false)}};
  }
  if (!any) return std::nullopt;
  return json{{"openapi", "3.0.0"},
              {"info", {{"title", "Petrel sandbox API"}, {"version", "v1.32.0"}}},
              {"paths", paths},
              {"components", {{"schemas", json::object()}}}};
}

json openapiRoot(const Registry& registry) {
  json paths = json::object();
  for (const auto& t : registry.all()) {
    std::string key = gvPath(t.group, t.version);
    if (paths.contains(key)) continue;
    auto doc = openapiGroupVersion(registry, t.group, t.version);
    size_t h = std::hash<std::string>{}(doc ? doc->dump() : "");
    char hex[32];
    snprintf(hex, sizeof(hex), "%016zx", h);
    paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + hex}};
  }
  return {{"paths", paths}};
}

}  // namespace petrel::apiserver
