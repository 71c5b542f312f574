// Built-in resource types, CRD-defined types and the discovery documents.
#include "tools/sandbox/apiserver/registry.h"

#include <algorithm>

namespace petrel::apiserver {

using nlohmann::json;

std::vector<std::string> ResourceType::allowedFields() const {
  std::vector<std::string> f = {"metadata.name", "metadata.namespace"};
  f.insert(f.end(), fieldSelectors.begin(), fieldSelectors.end());
  return f;
}

namespace {

ResourceType builtin(std::string group, std::string version, std::string plural,
                     std::string singular, std::string kind, bool namespaced, bool hasStatus,
                     std::vector<std::string> shortNames, std::vector<std::string> fields = {}) {
  ResourceType t;
  t.group = std::move(group);
  t.version = std::move(version);
  t.plural = std::move(plural);
  t.singular = std::move(singular);
  t.kind = std::move(kind);
  t.namespaced = namespaced;
  t.hasStatus = hasStatus;
  t.shortNames = std::move(shortNames);
  t.fieldSelectors = std::move(fields);
  return t;
}

const std::vector<std::string> kVerbs = {"create", "delete", "get",  "list",
                                         "patch",  "update", "watch"};

}  // namespace

Registry::Registry() {
  types_ = {
      builtin("", "v1", "namespaces", "namespace", "Namespace", false, true, {"ns"},
              {"status.phase"}),
      builtin("", "v1", "nodes", "node", "Node", false, true, {"no"}, {"spec.unschedulable"}),
      builtin("", "v1", "pods", "pod", "Pod", true, true, {"po"},
              {"spec.nodeName", "status.phase", "status.podIP", "spec.serviceAccountName",
               "spec.restartPolicy", "spec.schedulerName"}),
      builtin("", "v1", "services", "service", "Service", true, true, {"svc"},
              {"spec.clusterIP", "spec.type"}),
      builtin("", "v1", "endpoints", "endpoints", "Endpoints", true, false, {"ep"}),
      builtin("", "v1", "configmaps", "configmap", "ConfigMap", true, false, {"cm"}),
      builtin("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, false, {"sa"}),
      builtin("", "v1", "secrets", "secret", "Secret", true, false, {}, {"type"}),
      builtin("", "v1", "events", "event", "Event", true, false, {"ev"}),
      builtin("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true,
              false, {}),
      builtin("networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true,
              false, {"netpol"}),
      builtin("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, false, {}),
      builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
              "CustomResourceDefinition", false, true, {"crd", "crds"}),
  };
  for (auto& t : types_) {
    if (t.group.empty() && (t.plural == "pods" || t.plural == "services")) t.categories = {"all"};
  }
}

std::optional<ResourceType> Registry::find(const std::string& group, const std::string& version,
                                           const std::string& plural) const {
  std::lock_guard lock(mu_);
  for (const auto& t : types_) {
    if (t.group == group && t.version == version && t.plural == plural) return t;
  }
  return std::nullopt;
}

std::vector<ResourceType> Registry::byStorageKey(const std::string& key) const {
  std::lock_guard lock(mu_);
  std::vector<ResourceType> out;
  for (const auto& t : types_) {
    if (t.storageKey() == key) out.push_back(t);
  }
  return out;
}

bool Registry::groupVersionExists(const std::string& group, const std::string& version) const {
  std::lock_guard lock(mu_);
  return std::any_of(types_.begin(), types_.end(),
                     [&](const auto& t) { return t.group == group && t.version == version; });
}

bool Registry::groupExists(const std::string& group) const {
  std::lock_guard lock(mu_);
  return std::any_of(types_.begin(), types_.end(), [&](const auto& t) { return t.group == group; });
}

std::vector<ResourceType> Registry::all() const {
  std::lock_guard lock(mu_);
  return types_;
}

Result<std::vector<ResourceType>> Registry::typesFromCrd(const json& crd) {
  auto str = [&](const json& obj, const char* key) -> std::string {
    if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return "";
    return obj[key].get<std::string>();
  };
  if (!crd.is_object() || !crd.contains("spec") || !crd["spec"].is_object()) {
    return Status(Code::kInvalidArgument, "spec: Required value");
  }
  const json& spec = crd["spec"];
  std::string group = str(spec, "group");
  if (group.empty()) return Status(Code::kInvalidArgument, "spec.group: Required value");
  if (group.find('.') == std::string::npos) {
    return Status(Code::kInvalidArgument, "spec.group: Invalid value: \"" + group +
                                              "\": should be a domain with at least one dot");
  }
  const json names = spec.contains("names") ? spec["names"] : json::object();
  std::string plural = str(names, "plural"), kind = str(names, "kind");
  if (plural.empty()) return Status(Code::kInvalidArgument, "spec.names.plural: Required value");
  if (kind.empty()) return Status(Code::kInvalidArgument, "spec.names.kind: Required value");
  std::string name = crd.contains("metadata") ? str(crd["metadata"], "name") : "";
  if (name != plural + "." + group) {
    return Status(Code::kInvalidArgument, "metadata.name: Invalid value: \"" + name +
                                              "\": must be spec.names.plural+\".\"+spec.group");
  }
  std::string scope = str(spec, "scope");
  if (scope != "Namespaced" && scope != "Cluster") {
    return Status(Code::kInvalidArgument, "spec.scope: Unsupported value: \"" + scope +
                                              "\": supported values: \"Cluster\", \"Namespaced\"");
  }
  if (!spec.contains("versions") || !spec["versions"].is_array() || spec["versions"].empty()) {
    return Status(
        Code::kInvalidArgument,
        "spec.versions: Invalid value: must have exactly one version marked as storage version");
  }
  std::vector<ResourceType> out;
  for (const auto& v : spec["versions"]) {
    std::string vname = str(v, "name");
    if (vname.empty())
      return Status(Code::kInvalidArgument, "spec.versions[].name: Required value");
    if (v.contains("served") && v["served"].is_boolean() && !v["served"].get<bool>()) continue;
    ResourceType t;
    t.group = group;
    t.version = vname;
    t.plural = plural;
    t.singular = str(names, "singular").empty() ? plural : str(names, "singular");
    t.kind = kind;
    t.namespaced = scope == "Namespaced";
    t.hasStatus = v.contains("subresources") && v["subresources"].is_object() &&
                  v["subresources"].contains("status");
    t.fromCrd = true;
    if (v.contains("additionalPrinterColumns") && v["additionalPrinterColumns"].is_array()) {
      for (const auto& c : v["additionalPrinterColumns"]) {
        if (str(c, "name").empty() || str(c, "jsonPath").empty()) continue;
        PrinterColumn pc{str(c, "name"), str(c, "type"), str(c, "jsonPath"), 0};
        if (c.contains("priority") && c["priority"].is_number_integer()) {
          pc.priority = c["priority"].get<int>();
        }
        t.printerColumns.push_back(std::move(pc));
      }
    }
    if (names.contains("shortNames") && names["shortNames"].is_array()) {
      for (const auto& s : names["shortNames"]) {
        if (s.is_string()) t.shortNames.push_back(s.get<std::string>());
      }
    }
    if (names.contains("categories") && names["categories"].is_array()) {
      for (const auto& s : names["categories"]) {
        if (s.is_string()) t.categories.push_back(s.get<std::string>());
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

Status Registry::installCrd(const json& crd) {
  auto types = typesFromCrd(crd);
  if (!types) return types.status();
  std::lock_guard lock(mu_);
  for (const auto& t : *types) {
    for (const auto& e : types_) {
      if (!e.fromCrd && e.group == t.group && e.plural == t.plural) {
        return Status(Code::kAlreadyExists,
                      "spec.group: " + t.group + " serves built-in " + t.plural);
      }
    }
  }
  std::string key = types->empty() ? "" : (*types)[0].storageKey();
  std::erase_if(types_, [&](const auto& e) { return e.fromCrd && e.storageKey() == key; });
  types_.insert(types_.end(), types->begin(), types->end());
  return Status::ok();
}

void Registry::removeCrd(const std::string& crdName) {
  std::lock_guard lock(mu_);
  std::erase_if(types_, [&](const auto& e) { return e.fromCrd && e.storageKey() == crdName; });
}

std::vector<std::string> Registry::groupsInOrder() const {
  std::vector<std::string> groups;
  for (const auto& t : types_) {
    if (!t.group.empty() && std::find(groups.begin(), groups.end(), t.group) == groups.end()) {
      groups.push_back(t.group);
    }
  }
  return groups;
}

std::vector<std::string> Registry::versionsOf(const std::string& group) const {
  std::vector<std::string> versions;
  for (const auto& t : types_) {
    if (t.group == group &&
        std::find(versions.begin(), versions.end(), t.version) == versions.end()) {
      versions.push_back(t.version);
    }
  }
  return versions;
}

json Registry::apiVersions() const {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs",
           {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", "127.0.0.1"}}}}};
}

static json groupJson(const std::string& group, const std::vector<std::string>& versions) {
  json vs = json::array();
  for (const auto& v : versions) vs.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
  return {{"name", group}, {"versions", vs}, {"preferredVersion", vs.empty() ? json() : vs[0]}};
}

json Registry::apiGroupList() const {
  std::lock_guard lock(mu_);
  json groups = json::array();
  for (const auto& g : groupsInOrder()) groups.push_back(groupJson(g, versionsOf(g)));
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

std::optional<json> Registry::apiGroup(const std::string& group) const {
  std::lock_guard lock(mu_);
  auto versions = versionsOf(group);
  if (group.empty() || versions.empty()) return std::nullopt;
  json g = groupJson(group, versions);
  g["kind"] = "APIGroup";
  g["apiVersion"] = "v1";
  return g;
}

std::optional<json> Registry::resourceList(const std::string& group,
                                           const std::string& version) const {
  std::lock_guard lock(mu_);
  json resources = json::array();
  bool any = false;
  for (const auto& t : types_) {
    if (t.group != group || t.version != version) continue;
    any = true;
    json r = {{"name", t.plural},
              {"singularName", t.singular},
              {"namespaced", t.namespaced},
              {"kind", t.kind},
              {"verbs", kVerbs}};
    if (!t.shortNames.empty()) r["shortNames"] = t.shortNames;
    if (!t.categories.empty()) r["categories"] = t.categories;
    resources.push_back(r);
    if (t.hasStatus) {
      resources.push_back({{"name", t.plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", t.namespaced},
                           {"kind", t.kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
    if (t.group.empty() && t.plural == "pods") {
      resources.push_back({{"name", "pods/binding"},
                           {"singularName", ""},
                           {"namespaced", true},
                           {"kind", "Binding"},
                           {"verbs", {"create"}}});
    }
  }
  if (!any) return std::nullopt;
  return json{{"kind", "APIResourceList"},
              {"apiVersion", "v1"},
              {"groupVersion", group.empty() ? version : group + "/" + version},
              {"resources", resources}};
}

}  // namespace petrel::apiserver
