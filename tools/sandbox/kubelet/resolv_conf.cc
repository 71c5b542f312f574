// dnsPolicy and dnsConfig -> resolv.conf text.
#include "tools/sandbox/kubelet/resolv_conf.h"

#include <algorithm>
#include <sstream>

namespace petrel::sandbox {

namespace {

struct Resolv {
  std::vector<std::string> nameservers;
  std::vector<std::string> searches;
  std::vector<std::pair<std::string, std::optional<std::string>>> options;
};

void addUnique(std::vector<std::string>& into, const std::vector<std::string>& items) {
  for (const auto& i : items) {
    if (std::find(into.begin(), into.end(), i) == into.end()) into.push_back(i);
  }
}

void addOption(Resolv& r, const std::string& name, const std::optional<std::string>& value) {
  for (auto& o : r.options) {
    if (o.first == name) {
      o.second = value;
      return;
    }
  }
  r.options.emplace_back(name, value);
}

Resolv parse(const std::string& text) {
  Resolv r;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string key;
    if (!(words >> key) || key[0] == '#' || key[0] == ';') continue;
    std::vector<std::string> rest;
    for (std::string w; words >> w;) rest.push_back(w);
    if (key == "nameserver" && !rest.empty()) {
      addUnique(r.nameservers, {rest[0]});
    } else if (key == "search" || key == "domain") {
      r.searches = rest;  // the last one counts, as in the resolver
    } else if (key == "options") {
      for (const auto& o : rest) {
        auto colon = o.find(':');
        if (colon == std::string::npos) {
          addOption(r, o, std::nullopt);
        } else {
          addOption(r, o.substr(0, colon), o.substr(colon + 1));
        }
      }
    }
  }
  return r;
}

std::string render(const Resolv& r) {
  std::string out;
  if (!r.searches.empty()) {
    out += "search";
    for (const auto& s : r.searches) out += " " + s;
    out += "\n";
  }
  // The resolver reads at most three nameservers.
  for (size_t i = 0; i < r.nameservers.size() && i < 3; ++i) {
    out += "nameserver " + r.nameservers[i] + "\n";
  }
  if (!r.options.empty()) {
    out += "options";
    for (const auto& [name, value] : r.options) out += " " + name + (value ? ":" + *value : "");
    out += "\n";
  }
  return out;
}

bool hasConfig(const DnsConfig& c) {
  return !c.nameservers.empty() || !c.searches.empty() || !c.options.empty();
}

}  // namespace

std::optional<std::string> podResolvConf(const PodSpec& pod, const ClusterDns& dns,
                                         const std::string& node_resolv_conf) {
  std::string policy = pod.dns_policy;
  if (policy == "ClusterFirst" && pod.host_network) policy = "Default";
  if (policy == "ClusterFirstWithHostNet") policy = "ClusterFirst";
  // Without a cluster DNS the kubelet falls back to the node's resolv.conf.
  if (policy == "ClusterFirst" && dns.server.empty()) policy = "Default";
  Resolv r;
  if (policy == "ClusterFirst") {
    r.nameservers = {dns.server};
    r.searches = {pod.namespace_ + ".svc." + dns.domain, "svc." + dns.domain, dns.domain};
    r.options = {{"ndots", "5"}};
  } else if (policy == "Default") {
    if (!hasConfig(pod.dns_config)) return std::nullopt;
    r = parse(node_resolv_conf);
  }
  addUnique(r.nameservers, pod.dns_config.nameservers);
  addUnique(r.searches, pod.dns_config.searches);
  for (const auto& [name, value] : pod.dns_config.options) addOption(r, name, value);
  return render(r);
}

}  // namespace petrel::sandbox
