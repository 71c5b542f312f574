// Admission: defaults and validation per kind.
#include "tools/sandbox/apiserver/admission.h"

#include <arpa/inet.h>

#include <cctype>
#include <ctime>
#include <random>
#include <set>

namespace petrel::apiserver {

using nlohmann::json;

namespace {

std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen(std::random_device{}());
  return gen;
}

std::string str(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return "";
  return obj[key].get<std::string>();
}

bool isStringMap(const json& v) {
  if (!v.is_object()) return false;
  for (const auto& [k, x] : v.items()) {
    if (!x.is_string()) return false;
  }
  return true;
}

}  // namespace

std::string formatTimestamp(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string nowTimestamp() {
  return formatTimestamp(std::time(nullptr));
}

std::optional<std::time_t> parseTimestamp(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  if (*end == '.') {  // fractional seconds
    ++end;
    while (std::isdigit(static_cast<unsigned char>(*end))) ++end;
  }
  if (std::string(end) != "Z") return std::nullopt;
  return timegm(&tm);
}

std::string newUid() {
  std::uniform_int_distribution<int> d(0, 15);
  const char* hex = "0123456789abcdef";
  std::string u = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
  for (char& c : u) {
    if (c == 'x') c = hex[d(rng())];
    if (c == 'y') c = hex[8 + d(rng()) % 4];
  }
  return u;
}

std::string dnsSubdomainError(const std::string& name) {
  const std::string rule =
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
      "'.', and must start and end with an alphanumeric character";
  if (name.size() > 253) return "must be no more than 253 characters";
  if (name.empty()) return rule;
  auto alnum = [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c));
  };
  if (!alnum(name.front()) || !alnum(name.back())) return rule;
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '.') return rule;
  }
  return "";
}

Admission::Admission(ObjectStore& store, const std::string& serviceCidr)
    : store_(store), allocations_(serviceCidr) {
  ObjectStore::Observer o;
  o.reset = [this] { allocations_.reset(); };
  o.change = [this](const json* before, const json* after) { allocations_.apply(before, after); };
  observerId_ = store_.observe("services", std::move(o));
}

Admission::~Admission() {
  store_.unobserve(observerId_);
}

std::optional<ApiError> Admission::checkShape(const ResourceType& type, json& body) const {
  if (!body.is_object()) {
    return badRequest("the request body must be a JSON object describing a " + type.kind);
  }
  if (body.contains("apiVersion")) {
    if (!body["apiVersion"].is_string()) return badRequest("apiVersion must be a string");
    if (body["apiVersion"] != type.apiVersion()) {
      return badRequest("the API version in the data (" + body["apiVersion"].get<std::string>() +
                        ") does not match the expected API version (" + type.apiVersion() + ")");
    }
  }
  if (body.contains("kind")) {
    if (!body["kind"].is_string()) return badRequest("kind must be a string");
    if (body["kind"] != type.kind) {
      return badRequest("the kind in the data (" + body["kind"].get<std::string>() +
                        ") does not match the expected kind (" + type.kind + ")");
    }
  }
  body["apiVersion"] = type.apiVersion();
  body["kind"] = type.kind;
  if (!body.contains("metadata") || body["metadata"].is_null()) body["metadata"] = json::object();
  json& m = body["metadata"];
  if (!m.is_object()) return badRequest("metadata must be an object");
  for (const char* f : {"name", "generateName", "namespace", "resourceVersion", "uid"}) {
    if (m.contains(f) && !m[f].is_string() && !m[f].is_null()) {
      return badRequest(std::string("metadata.") + f + " must be a string");
    }
    if (m.contains(f) && m[f].is_null()) m.erase(f);
  }
  for (const char* f : {"labels", "annotations"}) {
    if (m.contains(f) && m[f].is_null()) m.erase(f);
    if (m.contains(f) && !isStringMap(m[f])) {
      return badRequest(std::string("metadata.") + f +
                        " must be a map of string keys to string values");
    }
  }
  return std::nullopt;
}

std::optional<ApiError> Admission::validate(const ResourceType& type, json& obj) const {
  json& m = obj["metadata"];
  std::string name = str(m, "name");
  if (std::string e = dnsSubdomainError(name); !e.empty()) {
    return invalid(type.kind, type.group, name,
                   "metadata.name: Invalid value: \"" + name + "\": " + e);
  }
  if (type.group.empty() && type.plural == "pods") {
    if (!obj.contains("spec") || !obj["spec"].is_object() || !obj["spec"].contains("containers") ||
        !obj["spec"]["containers"].is_array() || obj["spec"]["containers"].empty()) {
      return invalid(type.kind, type.group, name, "spec.containers: Required value");
    }
    for (size_t i = 0; i < obj["spec"]["containers"].size(); ++i) {
      const json& c = obj["spec"]["containers"][i];
      if (str(c, "name").empty()) {
        return invalid(type.kind, type.group, name,
                       "spec.containers[" + std::to_string(i) + "].name: Required value");
      }
    }
  }
  if (type.group == "discovery.k8s.io" && type.plural == "endpointslices") {
    std::string at = str(obj, "addressType");
    if (at != "IPv4" && at != "IPv6" && at != "FQDN") {
      return invalid(type.kind, type.group, name,
                     at.empty() ? "addressType: Required value"
                                : "addressType: Unsupported value: \"" + at +
                                      "\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"");
    }
  }
  if (type.group.empty() && type.plural == "services") {
    if (obj.contains("spec") && obj["spec"].contains("ports") && obj["spec"]["ports"].is_array()) {
      for (size_t i = 0; i < obj["spec"]["ports"].size(); ++i) {
        const json& p = obj["spec"]["ports"][i];
        if (!p.is_object() || !p.contains("port") || !p["port"].is_number_integer() ||
            p["port"].get<int64_t>() < 1 || p["port"].get<int64_t>() > 65535) {
          return invalid(type.kind, type.group, name,
                         "spec.ports[" + std::to_string(i) +
                             "].port: Invalid value: must be between 1 and 65535, inclusive");
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<ApiError> Admission::defaultService(const ResourceType& type, json& obj,
                                                  const json* current) {
  if (!obj.contains("spec") || !obj["spec"].is_object()) obj["spec"] = json::object();
  json& spec = obj["spec"];
  if (str(spec, "type").empty()) spec["type"] = "ClusterIP";
  if (!spec.contains("sessionAffinity")) spec["sessionAffinity"] = "None";
  std::string stype = str(spec, "type");
  if (stype == "ExternalName") return std::nullopt;
  const json* curSpec = current && current->contains("spec") && (*current)["spec"].is_object()
                            ? &(*current)["spec"]
                            : nullptr;
  if (str(spec, "clusterIP").empty() && curSpec && !str(*curSpec, "clusterIP").empty()) {
    spec["clusterIP"] = (*curSpec)["clusterIP"];
  }
  const std::string name = str(obj["metadata"], "name");
  const std::string requested = str(spec, "clusterIP");
  if (requested.empty()) {
    if (!allocations_.hasIpRange()) {
      return invalid(type.kind, type.group, name,
                     "spec.clusterIP: Internal error: no service CIDR configured");
    }
    auto ip = allocations_.reserveIp();
    if (!ip) {
      return ApiError{500, "InternalError", "the service CIDR is exhausted", "services", "", ""};
    }
    spec["clusterIP"] = *ip;
  } else if (requested != "None" && !(curSpec && str(*curSpec, "clusterIP") == requested)) {
    // A requested address: valid, in range and free, as the real allocator demands.
    in_addr a{};
    if (inet_pton(AF_INET, requested.c_str(), &a) != 1) {
      return invalid(type.kind, type.group, name,
                     "spec.clusterIP: Invalid value: \"" + requested +
                         "\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
    }
    const std::string failed = "spec.clusterIPs: Invalid value: [\"" + requested +
                               "\"]: failed to allocate IP " + requested + ": ";
    if (allocations_.hasIpRange() && !allocations_.ipInRange(requested)) {
      return invalid(type.kind, type.group, name,
                     failed + "the provided IP (" + requested +
                         ") is not in the valid range. The range of valid IPs is " +
                         allocations_.cidr());
    }
    if (allocations_.ipTaken(requested)) {
      return invalid(type.kind, type.group, name, failed + "provided IP is already allocated");
    }
    allocations_.reserveIpAddress(requested);
  }
  if (str(spec, "clusterIP") != "None") spec["clusterIPs"] = json::array({spec["clusterIP"]});
  if (!spec.contains("ipFamilies")) spec["ipFamilies"] = json::array({"IPv4"});
  if (!spec.contains("ipFamilyPolicy")) spec["ipFamilyPolicy"] = "SingleStack";
  if (!spec.contains("internalTrafficPolicy")) spec["internalTrafficPolicy"] = "Cluster";
  bool wantsNodePort = stype == "NodePort" || stype == "LoadBalancer";
  // NodePorts the object holds already (an update keeps them without a new check).
  std::set<int64_t> ownNodePorts;
  if (curSpec && curSpec->contains("ports") && (*curSpec)["ports"].is_array()) {
    for (const auto& cp : (*curSpec)["ports"]) {
      if (cp.is_object() && cp.contains("nodePort") && cp["nodePort"].is_number_integer()) {
        ownNodePorts.insert(cp["nodePort"].get<int64_t>());
      }
    }
  }
  std::set<int64_t> seen;
  if (spec.contains("ports") && spec["ports"].is_array()) {
    for (size_t i = 0; i < spec["ports"].size(); ++i) {
      json& p = spec["ports"][i];
      if (!p.is_object()) continue;
      if (!p.contains("protocol")) p["protocol"] = "TCP";
      if (!p.contains("targetPort") && p.contains("port")) p["targetPort"] = p["port"];
      if (!wantsNodePort) continue;
      const std::string field = "spec.ports[" + std::to_string(i) + "].nodePort";
      if (p.contains("nodePort") && p["nodePort"].is_null()) p.erase("nodePort");
      if (p.contains("nodePort") && !p["nodePort"].is_number_integer()) {
        return invalid(type.kind, type.group, name, field + ": Invalid value: must be an integer");
      }
      if (p.contains("nodePort") && p["nodePort"].is_number_integer()) {
        int64_t np = p["nodePort"].get<int64_t>();
        if (!seen.insert(np).second) {
          return invalid(type.kind, type.group, name,
                         field + ": Duplicate value: " + std::to_string(np));
        }
        if (ownNodePorts.count(np)) continue;
        const std::string bad = field + ": Invalid value: " + std::to_string(np) + ": ";
        if (np < ServiceAllocations::kNodePortFirst || np > ServiceAllocations::kNodePortLast) {
          return invalid(type.kind, type.group, name,
                         bad +
                             "provided port is not in the valid range. The range of valid "
                             "ports is 30000-32767");
        }
        if (allocations_.nodePortTaken(np)) {
          return invalid(type.kind, type.group, name, bad + "provided port is already allocated");
        }
        allocations_.reserveNodePortValue(np);
        continue;
      }
      // Keep the port the service had for this port number, else take a free one.
      if (curSpec && curSpec->contains("ports") && (*curSpec)["ports"].is_array()) {
        for (const auto& cp : (*curSpec)["ports"]) {
          if (cp.is_object() && cp.value("port", json()) == p.value("port", json()) &&
              cp.contains("nodePort") && cp["nodePort"].is_number_integer() &&
              !seen.count(cp["nodePort"].get<int64_t>())) {
            p["nodePort"] = cp["nodePort"];
          }
        }
      }
      if (p.contains("nodePort")) {
        seen.insert(p["nodePort"].get<int64_t>());
        continue;
      }
      auto np = allocations_.reserveNodePort();
      if (!np) {
        return ApiError{
            500, "InternalError", "the NodePort range 30000-32767 is exhausted", "services", name,
            ""};
      }
      p["nodePort"] = *np;
      seen.insert(*np);
    }
  }
  return std::nullopt;
}

std::optional<ApiError> Admission::prepareCreate(const ResourceType& type, const std::string& urlNs,
                                                 json& obj) {
  json& m = obj["metadata"];
  std::string name = str(m, "name");
  std::string gen = str(m, "generateName");
  if (name.empty()) {
    if (gen.empty()) {
      return invalid(type.kind, type.group, "",
                     "metadata.name: Required value: name or generateName is required");
    }
    const char* alphabet = "bcdfghjklmnpqrstvwxz2456789";
    std::uniform_int_distribution<int> d(0, 26);
    name = gen;
    for (int i = 0; i < 5; ++i) name += alphabet[d(rng())];
    m["name"] = name;
  }
  if (type.namespaced) {
    std::string bodyNs = str(m, "namespace");
    if (!bodyNs.empty() && bodyNs != urlNs) {
      return badRequest(
          "the namespace of the provided object does not match the namespace sent "
          "on the request");
    }
    m["namespace"] = urlNs;
  } else {
    m.erase("namespace");
  }
  m["uid"] = newUid();
  m["creationTimestamp"] = nowTimestamp();
  m["generation"] = 1;
  m.erase("resourceVersion");
  m.erase("deletionTimestamp");
  m.erase("deletionGracePeriodSeconds");
  m.erase("selfLink");
  if (auto e = validate(type, obj)) return e;

  if (type.group.empty() && type.plural == "namespaces") {
    m["labels"]["kubernetes.io/metadata.name"] = name;
    obj["spec"] = {{"finalizers", {"kubernetes"}}};
    obj["status"] = {{"phase", "Active"}};
  } else if (type.group.empty() && type.plural == "pods") {
    json& spec = obj["spec"];
    if (!spec.contains("restartPolicy")) spec["restartPolicy"] = "Always";
    if (!spec.contains("dnsPolicy")) spec["dnsPolicy"] = "ClusterFirst";
    if (!spec.contains("serviceAccountName")) spec["serviceAccountName"] = "default";
    if (!spec.contains("schedulerName")) spec["schedulerName"] = "default-scheduler";
    obj["status"] = {{"phase", "Pending"}, {"qosClass", "BestEffort"}};
  } else if (type.group.empty() && type.plural == "services") {
    if (auto e = defaultService(type, obj, nullptr)) return e;
    obj["status"] = {{"loadBalancer", json::object()}};
  } else if (type.group == "apiextensions.k8s.io") {
    auto types = Registry::typesFromCrd(obj);
    if (!types) return invalid(type.kind, type.group, name, types.status().message());
    const json& spec = obj["spec"];
    json stored = json::array();
    for (const auto& v : spec["versions"]) {
      if (v.value("storage", false)) stored.push_back(v.value("name", ""));
    }
    obj["status"] = {{"acceptedNames", spec.value("names", json::object())},
                     {"storedVersions", stored},
                     {"conditions",
                      {{{"type", "NamesAccepted"},
                        {"status", "True"},
                        {"reason", "NoConflicts"},
                        {"lastTransitionTime", nowTimestamp()},
                        {"message", "no conflicts found"}},
                       {{"type", "Established"},
                        {"status", "True"},
                        {"reason", "InitialNamesAccepted"},
                        {"lastTransitionTime", nowTimestamp()},
                        {"message", "the initial names have been accepted"}}}}};
  }
  return std::nullopt;
}

std::optional<ApiError> Admission::prepareUpdate(const ResourceType& type, const json& current,
                                                 json& desired, bool statusOnly) {
  if (statusOnly) {
    json next = current;
    if (desired.contains("status")) {
      next["status"] = desired["status"];
    } else {
      next.erase("status");
    }
    desired = std::move(next);
    return std::nullopt;
  }
  json& m = desired["metadata"];
  const json& cm = current["metadata"];
  for (const char* f : {"uid", "creationTimestamp", "namespace", "deletionTimestamp",
                        "deletionGracePeriodSeconds"}) {
    if (cm.contains(f)) {
      m[f] = cm[f];
    } else {
      m.erase(f);
    }
  }
  if (type.hasStatus) {
    if (current.contains("status")) {
      desired["status"] = current["status"];
    } else {
      desired.erase("status");
    }
  }
  int64_t gen = cm.contains("generation") && cm["generation"].is_number_integer()
                    ? cm["generation"].get<int64_t>()
                    : 1;
  bool specChanged = desired.value("spec", json()) != current.value("spec", json());
  m["generation"] = specChanged ? gen + 1 : gen;
  if (auto e = validate(type, desired)) return e;
  if (type.group.empty() && type.plural == "pods") {
    // A bound pod stays on its node; binding an unbound one by update is allowed.
    std::string was = current.contains("spec") ? str(current["spec"], "nodeName") : "";
    std::string now = str(desired["spec"], "nodeName");
    if (!was.empty() && now != was) {
      return invalid(type.kind, type.group, str(m, "name"),
                     "spec.nodeName: Invalid value: \"" + now + "\": field is immutable");
    }
  } else if (type.group.empty() && type.plural == "namespaces") {
    m["labels"]["kubernetes.io/metadata.name"] = m.value("name", "");
    if (!desired.contains("spec")) desired["spec"] = current.value("spec", json::object());
  } else if (type.group.empty() && type.plural == "services") {
    const json* cs = current.contains("spec") ? &current["spec"] : nullptr;
    std::string oldIp = cs ? str(*cs, "clusterIP") : "";
    std::string newIp = desired.contains("spec") ? str(desired["spec"], "clusterIP") : "";
    if (!newIp.empty() && !oldIp.empty() && newIp != oldIp) {
      return invalid(type.kind, type.group, str(m, "name"),
                     "spec.clusterIP: Invalid value: \"" + newIp + "\": field is immutable");
    }
    if (auto e = defaultService(type, desired, &current)) return e;
  } else if (type.group == "apiextensions.k8s.io") {
    auto types = Registry::typesFromCrd(desired);
    if (!types) return invalid(type.kind, type.group, str(m, "name"), types.status().message());
  }
  return std::nullopt;
}

}  // namespace petrel::apiserver
