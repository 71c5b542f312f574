// Embedded manifests -> server-side apply; waiting for the CoreDNS pod.
#include "tools/sandbox/cli/addons.h"

#include <cctype>
#include <iostream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "common/json_path.h"
#include "k8s/crds.h"
#include "tools/sandbox/cli/commands.h"

namespace petrel::sandbox {

const std::vector<std::pair<std::string, std::string>>& embeddedManifests();

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string* manifest(const std::string& file) {
  for (const auto& [name, text] : embeddedManifests()) {
    if (name == file) return &text;
  }
  return nullptr;
}

bool podReady(const json& pod) {
  for (const auto& c : jsonAt(pod, {"status", "conditions"})) {
    if (stringAt(c, {"type"}) == "Ready") return stringAt(c, {"status"}) == "True";
  }
  return false;
}

// "Pending: FailedMount: volume ..." for a progress line.
std::string podState(const json& pod) {
  std::string out = stringAt(pod, {"status", "phase"}, "unscheduled");
  for (const auto& c : jsonAt(pod, {"status", "conditions"})) {
    if (stringAt(c, {"status"}) == "True" || stringAt(c, {"reason"}).empty()) continue;
    out += ": " + stringAt(c, {"reason"});
    if (std::string m = stringAt(c, {"message"}); !m.empty()) out += ": " + m.substr(0, 160);
    break;
  }
  return out;
}

}  // namespace

Result<std::vector<json>> manifestObjects(
    const std::string& text, const std::vector<std::pair<std::string, std::string>>& vars) {
  std::string expanded = text;
  for (const auto& [name, value] : vars) {
    const std::string ref = "${" + name + "}";
    for (size_t at; (at = expanded.find(ref)) != std::string::npos;) {
      expanded.replace(at, ref.size(), value);
    }
  }
  if (auto left = expanded.find("${"); left != std::string::npos) {
    return makeError(Code::kInvalidArgument, "manifest: unknown reference {}",
                     expanded.substr(left, expanded.find('}', left) - left + 1));
  }
  std::vector<json> out;
  std::istringstream lines(expanded);
  std::string doc;
  auto flush = [&]() -> Status {
    auto obj = k8s::yamlToJson(doc);
    doc.clear();
    if (!obj) return obj.status();
    if (obj->is_object()) out.push_back(std::move(*obj));  // comments only: null
    return Status::ok();
  };
  for (std::string line; std::getline(lines, line);) {
    if (line == "---") {
      PETREL_RETURN_IF_ERROR(flush());
    } else {
      doc += line + "\n";
    }
  }
  PETREL_RETURN_IF_ERROR(flush());
  return out;
}

std::string objectPath(const json& object) {
  const std::string api_version = stringAt(object, {"apiVersion"});
  std::string kind = stringAt(object, {"kind"});
  for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string ns = stringAt(object, {"metadata", "namespace"});
  std::string path =
      api_version.find('/') == std::string::npos ? "/api/" + api_version : "/apis/" + api_version;
  if (!ns.empty()) path += "/namespaces/" + ns;
  // Every kind applied here is pluralised with an "s" (services, clusterroles, ...).
  return path + "/" + kind + "s/" + stringAt(object, {"metadata", "name"});
}

Status installClusterDns(const k8s::RestClient& admin, const Layout& l,
                         std::chrono::seconds limit) {
  step(fmt::format("Cluster DNS: CoreDNS in kube-system, Service kube-dns at {} (domain {})",
                   l.clusterDnsIp(), l.cluster_domain));
  const std::string* text = manifest("coredns.yaml");
  if (!text) return Status(Code::kInternal, "coredns.yaml is not embedded in this build");
  auto objects = manifestObjects(
      *text, {{"CLUSTER_DOMAIN", l.cluster_domain}, {"CLUSTER_DNS_IP", l.clusterDnsIp()}});
  if (!objects)
    return makeError(objects.status().code(), "coredns.yaml: {}", objects.status().message());
  for (const auto& obj : *objects) {
    const std::string path = objectPath(obj);
    auto r = admin.send("PATCH", path + "?fieldManager=petrel-sandbox&force=true", obj.dump(), 10s,
                        "application/apply-patch+yaml");
    if (!r) return r.status();
    if (r->status != 200 && r->status != 201) {
      return makeError(Code::kUnavailable, "apply {}: HTTP {}: {}", path, r->status,
                       r->body.substr(0, 300));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  auto last_line = start;
  std::string state = "no pod yet";
  for (;;) {
    auto r = admin.get("/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-dns", 5s);
    if (r && r->status == 200) {
      json list = json::parse(r->body, nullptr, false);
      for (const auto& pod : jsonAt(list, {"items"})) {
        if (podReady(pod)) {
          std::cout << fmt::format("    CoreDNS pod {} Ready on {} ({}s)\n",
                                   stringAt(pod, {"metadata", "name"}),
                                   stringAt(pod, {"spec", "nodeName"}),
                                   std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::steady_clock::now() - start)
                                       .count());
          return Status::ok();
        }
        state = stringAt(pod, {"metadata", "name"}) + " " + podState(pod);
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - start > limit) {
      return makeError(Code::kUnavailable, "the CoreDNS pod is not Ready after {}s: {}",
                       limit.count(), state);
    }
    if (now - last_line >= 10s) {
      last_line = now;
      std::cout << fmt::format(
                       "    waiting for the CoreDNS pod to be Ready ({}s): {}\n",
                       std::chrono::duration_cast<std::chrono::seconds>(now - start).count(), state)
                << std::flush;
    }
    std::this_thread::sleep_for(1s);
  }
}

}  // namespace petrel::sandbox
