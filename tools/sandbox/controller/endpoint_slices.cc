// EndpointSlice controller logic: selection, endpoints, port resolution, grouping and planning.
#include "tools/sandbox/controller/endpoint_slices.h"

#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <set>

#include "tools/sandbox/controller/object_fields.h"

namespace petrel::controller {

using nlohmann::json;

namespace {

json ownerReferences(const json& service) {
  return json::array({{{"apiVersion", "v1"},
                       {"kind", "Service"},
                       {"name", stringAt(service, {"metadata", "name"})},
                       {"uid", stringAt(service, {"metadata", "uid"})},
                       {"controller", true},
                       {"blockOwnerDeletion", true}}});
}

// The slice's metadata and type already say what a slice of `service` must say.
bool sliceMetaMatches(const json& slice, const json& service) {
  const json& labels = jsonAt(slice, {"metadata", "labels"});
  return stringAt(labels, {kServiceNameLabel}) == stringAt(service, {"metadata", "name"}) &&
         stringAt(labels, {kManagedByLabel}) == kManagedBy &&
         stringAt(slice, {"addressType"}) == "IPv4" &&
         jsonAt(slice, {"metadata", "ownerReferences"}) == ownerReferences(service);
}

DesiredSlice contentOf(const json& slice) {
  DesiredSlice d;
  const json& ports = jsonAt(slice, {"ports"});
  const json& endpoints = jsonAt(slice, {"endpoints"});
  if (ports.is_array()) d.ports = ports;
  if (endpoints.is_array()) d.endpoints = endpoints;
  return d;
}

// Writes the desired content and our metadata into `slice` (an existing or a new object).
void fill(json& slice, const json& service, const DesiredSlice& d) {
  json& meta = slice["metadata"];
  meta["labels"][kServiceNameLabel] = stringAt(service, {"metadata", "name"});
  meta["labels"][kManagedByLabel] = kManagedBy;
  meta["ownerReferences"] = ownerReferences(service);
  slice["addressType"] = "IPv4";
  slice["ports"] = d.ports;
  slice["endpoints"] = d.endpoints;
}

}  // namespace

std::string podIPv4(const json& pod) {
  auto v4 = [](const std::string& ip) {
    in_addr a{};
    return inet_pton(AF_INET, ip.c_str(), &a) == 1;
  };
  std::string primary = stringAt(pod, {"status", "podIP"});
  if (v4(primary)) return primary;
  const json& ips = jsonAt(pod, {"status", "podIPs"});
  for (const auto& entry : ips.is_array() ? ips : json::array()) {
    std::string ip = stringAt(entry, {"ip"});
    if (v4(ip)) return ip;
  }
  return "";
}

bool selectorMatches(const json& selector, const json& labels) {
  if (!selector.is_object()) return false;
  for (const auto& [key, value] : selector.items()) {
    if (!labels.is_object()) return false;
    auto it = labels.find(key);
    if (it == labels.end() || *it != value) return false;
  }
  return true;
}

bool managesService(const json& service) {
  const json& selector = jsonAt(service, {"spec", "selector"});
  return selector.is_object() && !selector.empty() &&
         stringAt(service, {"spec", "type"}) != "ExternalName";
}

bool podBacksService(const json& service, const json& pod) {
  return managesService(service) &&
         stringAt(pod, {"metadata", "namespace"}) == stringAt(service, {"metadata", "namespace"}) &&
         selectorMatches(jsonAt(service, {"spec", "selector"}),
                         jsonAt(pod, {"metadata", "labels"})) &&
         !podIPv4(pod).empty() && !podFinished(pod);
}

json endpointFor(const json& pod) {
  bool serving = conditionTrue(pod, "Ready");
  bool terminating = isTerminating(pod);
  json ep = {
      {"addresses", json::array({podIPv4(pod)})},
      {"conditions",
       {{"ready", serving && !terminating}, {"serving", serving}, {"terminating", terminating}}}};
  if (std::string node = stringAt(pod, {"spec", "nodeName"}); !node.empty()) ep["nodeName"] = node;
  ep["targetRef"] = {{"kind", "Pod"},
                     {"namespace", stringAt(pod, {"metadata", "namespace"})},
                     {"name", stringAt(pod, {"metadata", "name"})},
                     {"uid", stringAt(pod, {"metadata", "uid"})}};
  return ep;
}

std::optional<json> resolvePort(const json& servicePort, const json& pod) {
  std::string protocol = stringAt(servicePort, {"protocol"});
  if (protocol.empty()) protocol = "TCP";
  json out = {{"name", stringAt(servicePort, {"name"})}, {"protocol", protocol}};
  const json& target = jsonAt(servicePort, {"targetPort"});
  if (target.is_number_integer() && target.get<int64_t>() > 0) {
    out["port"] = target;
    return out;
  }
  if (target.is_string() && !target.get<std::string>().empty()) {
    const json& containers = jsonAt(pod, {"spec", "containers"});
    for (const auto& c : containers.is_array() ? containers : json::array()) {
      const json& ports = jsonAt(c, {"ports"});
      for (const auto& p : ports.is_array() ? ports : json::array()) {
        std::string pp = stringAt(p, {"protocol"});
        if (stringAt(p, {"name"}) == target.get<std::string>() &&
            (pp.empty() ? "TCP" : pp) == protocol && jsonAt(p, {"containerPort"}).is_number()) {
          out["port"] = p["containerPort"];
          return out;
        }
      }
    }
    return std::nullopt;
  }
  const json& port = jsonAt(servicePort, {"port"});
  if (!port.is_number_integer()) return std::nullopt;
  out["port"] = port;
  return out;
}

std::vector<DesiredSlice> desiredSlices(const json& service, const std::vector<json>& pods) {
  if (!managesService(service)) return {};
  std::vector<const json*> backing;
  for (const auto& pod : pods) {
    if (podBacksService(service, pod)) backing.push_back(&pod);
  }
  std::sort(backing.begin(), backing.end(), [](const json* a, const json* b) {
    return stringAt(*a, {"metadata", "name"}) < stringAt(*b, {"metadata", "name"});
  });
  const json& servicePorts = jsonAt(service, {"spec", "ports"});
  // Resolved port set (its JSON text) -> ports and endpoints.
  std::map<std::string, DesiredSlice> groups;
  for (const json* pod : backing) {
    json ports = json::array();
    for (const auto& sp : servicePorts.is_array() ? servicePorts : json::array()) {
      if (auto p = resolvePort(sp, *pod)) ports.push_back(std::move(*p));
    }
    DesiredSlice& g = groups[ports.dump()];
    g.ports = ports;
    g.endpoints.push_back(endpointFor(*pod));
  }
  std::vector<DesiredSlice> out;
  for (const auto& [key, g] : groups) {
    for (size_t i = 0; i < g.endpoints.size(); i += kMaxEndpointsPerSlice) {
      DesiredSlice chunk;
      chunk.ports = g.ports;
      size_t end = std::min(g.endpoints.size(), i + kMaxEndpointsPerSlice);
      for (size_t j = i; j < end; ++j) chunk.endpoints.push_back(g.endpoints[j]);
      out.push_back(std::move(chunk));
    }
  }
  if (out.empty()) out.push_back(DesiredSlice{});
  return out;
}

namespace {

// Which pod an endpoint stands for (its targetRef), so it can stay in the slice it is in.
std::string endpointIdentity(const json& ep) {
  std::string name = stringAt(ep, {"targetRef", "name"});
  return name.empty() ? jsonAt(ep, {"addresses"}).dump() : name;
}

// One slice of the outcome: an existing object to keep or rewrite (or null: a new one) and its
// content.
struct Placement {
  const json* existing = nullptr;
  DesiredSlice content;
};

// Lays out the endpoints of one port set: each endpoint stays in the existing slice that holds
// it, new endpoints fill slices with room, then new slices of kMaxEndpointsPerSlice.
void placeGroup(const json& ports, const std::vector<json>& endpoints,
                std::vector<const json*>& unused, std::vector<Placement>& out) {
  std::map<std::string, const json*> wanted;
  for (const auto& ep : endpoints) wanted.emplace(endpointIdentity(ep), &ep);
  std::set<std::string> placed;
  size_t first = out.size();
  for (auto it = unused.begin(); it != unused.end();) {
    const json& slice = **it;
    if (contentOf(slice).ports != ports) {
      ++it;
      continue;
    }
    Placement p{&slice, DesiredSlice{ports, json::array()}};
    for (const auto& ep : contentOf(slice).endpoints) {
      std::string id = endpointIdentity(ep);
      auto w = wanted.find(id);
      if (w == wanted.end() || placed.count(id) ||
          p.content.endpoints.size() >= kMaxEndpointsPerSlice) {
        continue;
      }
      p.content.endpoints.push_back(*w->second);
      placed.insert(id);
    }
    if (p.content.endpoints.empty()) {
      ++it;
      continue;
    }
    out.push_back(std::move(p));
    it = unused.erase(it);
  }
  for (const auto& ep : endpoints) {
    if (placed.count(endpointIdentity(ep))) continue;
    auto room = std::find_if(
        out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
        [](const Placement& p) { return p.content.endpoints.size() < kMaxEndpointsPerSlice; });
    if (room == out.end()) {
      out.push_back(Placement{nullptr, DesiredSlice{ports, json::array()}});
      room = out.end() - 1;
    }
    room->content.endpoints.push_back(ep);
  }
}

}  // namespace

SlicePlan planSlices(const json& service, const std::vector<DesiredSlice>& desired,
                     const std::vector<json>& existing) {
  SlicePlan plan;
  std::vector<const json*> unused;
  for (const auto& slice : existing) {
    // addressType is immutable: a slice of another type cannot be reused.
    if (service.is_null() || stringAt(slice, {"addressType"}) != "IPv4") {
      plan.remove.push_back(slice);
    } else {
      unused.push_back(&slice);
    }
  }
  std::sort(unused.begin(), unused.end(), [](const json* a, const json* b) {
    return stringAt(*a, {"metadata", "name"}) < stringAt(*b, {"metadata", "name"});
  });
  if (service.is_null()) return plan;
  // Endpoints by port set, in the order the desired slices list them.
  std::vector<std::pair<json, std::vector<json>>> groups;
  for (const auto& d : desired) {
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const auto& group) { return group.first == d.ports; });
    if (g == groups.end()) {
      groups.emplace_back(d.ports, std::vector<json>{});
      g = groups.end() - 1;
    }
    g->second.insert(g->second.end(), d.endpoints.begin(), d.endpoints.end());
  }
  std::vector<Placement> layout;
  for (const auto& [ports, endpoints] : groups) {
    if (endpoints.empty()) continue;
    placeGroup(ports, endpoints, unused, layout);
  }
  // A Service without endpoints keeps one empty slice.
  if (layout.empty() && !desired.empty()) layout.push_back(Placement{nullptr, desired[0]});
  // New slices take over leftover ones (same ports first) rather than create + delete.
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& p : layout) {
      if (p.existing) continue;
      auto slot = std::find_if(unused.begin(), unused.end(), [&](const json* s) {
        return pass == 1 || contentOf(*s) == p.content || contentOf(*s).ports == p.content.ports;
      });
      if (slot == unused.end()) continue;
      p.existing = *slot;
      unused.erase(slot);
    }
  }
  for (const auto& p : layout) {
    if (p.existing && contentOf(*p.existing) == p.content &&
        sliceMetaMatches(*p.existing, service)) {
      continue;  // already right: no write
    }
    json slice = p.existing
                     ? *p.existing
                     : json{{"apiVersion", "discovery.k8s.io/v1"},
                            {"kind", "EndpointSlice"},
                            {"metadata",
                             {{"generateName", stringAt(service, {"metadata", "name"}) + "-"},
                              {"namespace", stringAt(service, {"metadata", "namespace"})}}}};
    fill(slice, service, p.content);
    (p.existing ? plan.update : plan.create).push_back(std::move(slice));
  }
  // Whatever is left over goes.
  for (const json* s : unused) plan.remove.push_back(*s);
  return plan;
}

std::string summarizeEndpoints(const json& slice) {
  size_t ready = 0, terminating = 0, notReady = 0;
  const json& endpoints = jsonAt(slice, {"endpoints"});
  for (const auto& ep : endpoints.is_array() ? endpoints : json::array()) {
    if (jsonAt(ep, {"conditions", "ready"}) == true) {
      ++ready;
    } else if (jsonAt(ep, {"conditions", "terminating"}) == true) {
      ++terminating;
    } else {
      ++notReady;
    }
  }
  std::string out =
      std::to_string(ready) + " ready, " + std::to_string(terminating) + " terminating";
  if (notReady) out += ", " + std::to_string(notReady) + " not ready";
  return out;
}

}  // namespace petrel::controller
