// CNI result, error and version JSON.
#include "cni-plugin/result.h"

#include "cni-plugin/config.h"

namespace petrel::cni {

using nlohmann::json;

json addResultJson(const AddResult& r, const std::string& version) {
  bool legacy = !versionAtLeast(version, "1.0.0");  // 0.3.0, 0.3.1, 0.4.0
  json host = {{"name", r.host_ifname}, {"mac", formatMac(r.host_mac.data())}};
  json pod = {{"name", r.pod_ifname}, {"mac", formatMac(r.pod_mac.data())}, {"sandbox", r.sandbox}};
  if (versionAtLeast(version, "1.1.0") && r.mtu != 0) {
    host["mtu"] = r.mtu;
    pod["mtu"] = r.mtu;
  }
  json ip = {
      {"address", r.ip.toString() + "/32"}, {"gateway", r.gateway.toString()}, {"interface", 1}};
  if (legacy) ip["version"] = "4";
  return json{{"cniVersion", version},
              {"interfaces", json::array({host, pod})},
              {"ips", json::array({ip})},
              {"routes", json::array({json{{"dst", "0.0.0.0/0"}, {"gw", r.gateway.toString()}}})},
              {"dns", json::object()}};
}

json errorJson(const CniError& error, const std::string& version) {
  json out = {{"cniVersion", version}, {"code", error.code}, {"msg", error.msg}};
  if (!error.details.empty()) out["details"] = error.details;
  return out;
}

json versionJson(const std::string& version) {
  json supported = json::array();
  for (const char* v : kSupportedVersions) supported.push_back(v);
  return json{{"cniVersion", version}, {"supportedVersions", supported}};
}

std::string dumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

CniResult<PrevResult> parsePrevResult(const json& prev) {
  auto bad = [](const std::string& what) {
    return CniError{kErrInvalidConfig, "prevResult " + what + "; CHECK needs the ADD result", ""};
  };
  PrevResult out;
  auto ips = prev.find("ips");
  if (ips == prev.end() || !ips->is_array() || ips->empty() || !(*ips)[0].is_object()) {
    return bad("has no ips");
  }
  const json& ip0 = (*ips)[0];
  auto addr = ip0.find("address");
  if (addr == ip0.end() || !addr->is_string()) return bad("ips[0] has no address");
  std::string text = addr->get<std::string>();
  auto ip = Ipv4Addr::parse(text.substr(0, text.find('/')));
  if (!ip || !Ipv4Cidr::parse(text, /*allow_host_bits=*/true)) {
    return bad("ips[0].address is not an IPv4 CIDR");
  }
  out.ip = *ip;
  if (auto gw = ip0.find("gateway"); gw != ip0.end() && gw->is_string()) {
    out.gateway = Ipv4Addr::parse(gw->get<std::string>());
  }
  auto ifaces = prev.find("interfaces");
  if (ifaces == prev.end() || !ifaces->is_array()) return bad("has no interfaces");
  for (const json& i : *ifaces) {
    if (!i.is_object() || !i.contains("name") || !i["name"].is_string()) continue;
    if (i.contains("sandbox")) {
      out.pod_ifname = i["name"].get<std::string>();
    } else {
      out.host_ifname = i["name"].get<std::string>();
    }
  }
  if (out.host_ifname.empty() || out.pod_ifname.empty()) {
    return bad("does not list both the host and the pod interface");
  }
  return out;
}

}  // namespace petrel::cni
