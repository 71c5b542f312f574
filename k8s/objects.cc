// Decoders for Kubernetes objects: type-checked field access, no exceptions escape.
#include "k8s/objects.h"

#include "field_reader.h"

namespace petrel::k8s {

using nlohmann::json;

Result<ObjectMeta> decodeMeta(const json& obj, bool namespaced) {
  FieldReader r("object");
  return decodeMetaOf(obj, namespaced, r, "object");
}

Result<Node> decodeNode(const json& obj) {
  FieldReader r("Node");
  Node n;
  PETREL_ASSIGN(n.meta, decodeMetaOf(obj, false, r, "Node"));
  PETREL_ASSIGN(n.pod_cidrs, r.stringList(obj, "spec.podCIDRs"));
  if (n.pod_cidrs.empty()) {
    std::string single;
    PETREL_ASSIGN(single, r.str(obj, "spec.podCIDR"));
    if (!single.empty()) n.pod_cidrs.push_back(single);
  }
  for (const auto& c : n.pod_cidrs) {
    if (c.find(':') == std::string::npos && !Ipv4Cidr::parse(c)) {
      return r.error("spec.podCIDRs", "'" + c + "' is not a CIDR");
    }
  }
  std::vector<const json*> addrs;
  PETREL_ASSIGN(addrs, r.array(obj, "status.addresses"));
  for (const json* a : addrs) {
    std::string type, address;
    PETREL_ASSIGN(type, r.str(*a, "type"));
    PETREL_ASSIGN(address, r.str(*a, "address"));
    if (type != "InternalIP" || address.find(':') != std::string::npos) continue;
    Ipv4Addr ip;
    PETREL_ASSIGN(ip, r.ipv4(address, "status.addresses"));
    n.internal_ips.push_back(ip);
  }
  std::vector<const json*> conds;
  PETREL_ASSIGN(conds, r.array(obj, "status.conditions"));
  for (const json* c : conds) {
    std::string type, status;
    PETREL_ASSIGN(type, r.str(*c, "type"));
    PETREL_ASSIGN(status, r.str(*c, "status"));
    if (type == "Ready") n.ready = status == "True";
  }
  return n;
}

Result<Pod> decodePod(const json& obj) {
  FieldReader r("Pod");
  Pod p;
  PETREL_ASSIGN(p.meta, decodeMetaOf(obj, true, r, "Pod"));
  PETREL_ASSIGN(p.node_name, r.str(obj, "spec.nodeName"));
  PETREL_ASSIGN(p.service_account, r.str(obj, "spec.serviceAccountName", "default"));
  PETREL_ASSIGN(p.host_network, r.boolean(obj, "spec.hostNetwork", false));
  PETREL_ASSIGN(p.phase, r.str(obj, "status.phase"));
  std::vector<const json*> ips;
  PETREL_ASSIGN(ips, r.array(obj, "status.podIPs"));
  for (const json* ip : ips) {
    std::string text;
    PETREL_ASSIGN(text, r.str(*ip, "ip"));
    if (text.find(':') != std::string::npos) continue;  // IPv6 comes later
    Ipv4Addr addr;
    PETREL_ASSIGN(addr, r.ipv4(text, "status.podIPs"));
    p.pod_ips.push_back(addr);
  }
  if (p.pod_ips.empty()) {
    std::string text;
    PETREL_ASSIGN(text, r.str(obj, "status.podIP"));
    if (!text.empty() && text.find(':') == std::string::npos) {
      Ipv4Addr addr;
      PETREL_ASSIGN(addr, r.ipv4(text, "status.podIP"));
      p.pod_ips.push_back(addr);
    }
  }
  std::vector<const json*> containers;
  PETREL_ASSIGN(containers, r.array(obj, "spec.containers"));
  for (const json* c : containers) {
    std::vector<const json*> ports;
    PETREL_ASSIGN(ports, r.array(*c, "ports"));
    for (const json* port : ports) {
      Pod::ContainerPort cp;
      PETREL_ASSIGN(cp.name, r.str(*port, "name"));
      PETREL_ASSIGN(cp.port, r.port(*port, "containerPort", true));
      PETREL_ASSIGN(cp.protocol, r.protocol(*port, "protocol"));
      p.ports.push_back(cp);
    }
  }
  return p;
}

Result<Namespace> decodeNamespace(const json& obj) {
  FieldReader r("Namespace");
  Namespace n;
  PETREL_ASSIGN(n.meta, decodeMetaOf(obj, false, r, "Namespace"));
  return n;
}

Result<Service> decodeService(const json& obj) {
  FieldReader r("Service");
  Service s;
  PETREL_ASSIGN(s.meta, decodeMetaOf(obj, true, r, "Service"));
  PETREL_ASSIGN(s.type, r.str(obj, "spec.type", "ClusterIP"));
  if (s.type != "ClusterIP" && s.type != "NodePort" && s.type != "LoadBalancer" &&
      s.type != "ExternalName") {
    return r.error("spec.type", "unknown Service type '" + s.type + "'");
  }
  std::vector<std::string> cluster_ips;
  PETREL_ASSIGN(cluster_ips, r.stringList(obj, "spec.clusterIPs"));
  if (cluster_ips.empty()) {
    std::string single;
    PETREL_ASSIGN(single, r.str(obj, "spec.clusterIP"));
    if (!single.empty()) cluster_ips.push_back(single);
  }
  for (const auto& ip : cluster_ips) {
    if (ip == "None") {
      s.headless = true;
      continue;
    }
    if (ip.find(':') != std::string::npos) continue;
    Ipv4Addr addr;
    PETREL_ASSIGN(addr, r.ipv4(ip, "spec.clusterIPs"));
    s.cluster_ips.push_back(addr);
  }
  std::vector<std::string> external_ips;
  PETREL_ASSIGN(external_ips, r.stringList(obj, "spec.externalIPs"));
  for (const auto& ip : external_ips) {
    Ipv4Addr addr;
    PETREL_ASSIGN(addr, r.ipv4(ip, "spec.externalIPs"));
    s.external_ips.push_back(addr);
  }
  std::vector<const json*> ips;
  PETREL_ASSIGN(ips, r.array(obj, "status.loadBalancer.ingress"));
  for (const json* ing : ips) {
    std::string text;
    PETREL_ASSIGN(text, r.str(*ing, "ip"));
    if (text.empty() || text.find(':') != std::string::npos) continue;
    Ipv4Addr addr;
    PETREL_ASSIGN(addr, r.ipv4(text, "status.loadBalancer.ingress"));
    s.load_balancer_ips.push_back(addr);
  }
  std::vector<const json*> ports;
  PETREL_ASSIGN(ports, r.array(obj, "spec.ports"));
  for (const json* port : ports) {
    ServicePort sp;
    PETREL_ASSIGN(sp.name, r.str(*port, "name"));
    PETREL_ASSIGN(sp.protocol, r.protocol(*port, "protocol"));
    PETREL_ASSIGN(sp.port, r.port(*port, "port", true));
    PETREL_ASSIGN(sp.node_port, r.port(*port, "nodePort", false));
    auto target = port->find("targetPort");
    if (target == port->end() || target->is_null()) {
      sp.target_port = sp.port;
    } else if (target->is_string()) {
      sp.target_port_name = target->get<std::string>();
      if (sp.target_port_name.empty()) return r.error("spec.ports.targetPort", "empty name");
    } else {
      PETREL_ASSIGN(sp.target_port, r.port(*port, "targetPort", true));
    }
    s.ports.push_back(sp);
  }
  PETREL_ASSIGN(s.selector, r.stringMap(obj, "spec.selector"));
  std::string affinity;
  PETREL_ASSIGN(affinity, r.str(obj, "spec.sessionAffinity", "None"));
  if (affinity != "None" && affinity != "ClientIP")
    return r.error("spec.sessionAffinity", "unknown value '" + affinity + "'");
  s.session_affinity_client_ip = affinity == "ClientIP";
  int64_t timeout = 0;
  PETREL_ASSIGN(timeout,
                r.integer(obj, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", 10800));
  if (timeout < 1 || timeout > 86400)
    return r.error("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "must be 1-86400");
  s.session_affinity_timeout = static_cast<uint32_t>(timeout);
  std::string policy;
  PETREL_ASSIGN(policy, r.str(obj, "spec.externalTrafficPolicy", "Cluster"));
  if (policy != "Cluster" && policy != "Local")
    return r.error("spec.externalTrafficPolicy", "unknown value '" + policy + "'");
  s.external_traffic_local = policy == "Local";
  PETREL_ASSIGN(policy, r.str(obj, "spec.internalTrafficPolicy", "Cluster"));
  if (policy != "Cluster" && policy != "Local")
    return r.error("spec.internalTrafficPolicy", "unknown value '" + policy + "'");
  s.internal_traffic_local = policy == "Local";
  return s;
}

Result<EndpointSlice> decodeEndpointSlice(const json& obj) {
  FieldReader r("EndpointSlice");
  EndpointSlice es;
  PETREL_ASSIGN(es.meta, decodeMetaOf(obj, true, r, "EndpointSlice"));
  auto svc = es.meta.labels.find("kubernetes.io/service-name");
  if (svc != es.meta.labels.end()) es.service_name = svc->second;
  PETREL_ASSIGN(es.address_type, r.str(obj, "addressType"));
  if (es.address_type != "IPv4" && es.address_type != "IPv6" && es.address_type != "FQDN") {
    return r.error("addressType", "unknown value '" + es.address_type + "'");
  }
  std::vector<const json*> eps;
  PETREL_ASSIGN(eps, r.array(obj, "endpoints"));
  for (const json* e : eps) {
    EndpointSlice::Endpoint ep;
    std::vector<std::string> addrs;
    PETREL_ASSIGN(addrs, r.stringList(*e, "addresses", "endpoints.addresses"));
    for (const auto& a : addrs) {
      if (es.address_type != "IPv4") continue;
      Ipv4Addr ip;
      PETREL_ASSIGN(ip, r.ipv4(a, "endpoints.addresses"));
      ep.addresses.push_back(ip);
    }
    PETREL_ASSIGN(ep.ready, r.boolean(*e, "conditions.ready", true));
    PETREL_ASSIGN(ep.serving, r.boolean(*e, "conditions.serving", ep.ready));
    PETREL_ASSIGN(ep.terminating, r.boolean(*e, "conditions.terminating", false));
    PETREL_ASSIGN(ep.node_name, r.str(*e, "nodeName"));
    std::string ref_kind;
    PETREL_ASSIGN(ref_kind, r.str(*e, "targetRef.kind"));
    if (ref_kind == "Pod") PETREL_ASSIGN(ep.pod_name, r.str(*e, "targetRef.name"));
    es.endpoints.push_back(ep);
  }
  std::vector<const json*> ports;
  PETREL_ASSIGN(ports, r.array(obj, "ports"));
  for (const json* p : ports) {
    EndpointSlice::Port port;
    PETREL_ASSIGN(port.name, r.str(*p, "name"));
    PETREL_ASSIGN(port.protocol, r.protocol(*p, "protocol"));
    PETREL_ASSIGN(port.port, r.port(*p, "port", true));
    es.ports.push_back(port);
  }
  return es;
}

Result<PetrelNode> decodePetrelNode(const json& obj) {
  FieldReader r("PetrelNode");
  PetrelNode n;
  PETREL_ASSIGN(n.meta, decodeMetaOf(obj, false, r, "PetrelNode"));
  std::vector<std::string> cidrs;
  PETREL_ASSIGN(cidrs, r.stringList(obj, "spec.ipam.podCIDRs"));
  for (const auto& c : cidrs) {
    if (c.find(':') != std::string::npos) continue;  // IPv6 comes later
    if (auto cidr = Ipv4Cidr::parse(c)) {
      n.pod_cidrs.push_back(*cidr);
    } else {
      n.malformed_pod_cidrs.push_back(c);
    }
  }
  std::vector<const json*> addrs;
  PETREL_ASSIGN(addrs, r.array(obj, "spec.addresses"));
  for (const json* a : addrs) {
    std::string type, ip;
    PETREL_ASSIGN(type, r.str(*a, "type"));
    PETREL_ASSIGN(ip, r.str(*a, "ip"));
    if (type != "InternalIP" || ip.find(':') != std::string::npos) continue;
    Ipv4Addr addr;
    PETREL_ASSIGN(addr, r.ipv4(ip, "spec.addresses"));
    n.internal_ips.push_back(addr);
  }
  PETREL_ASSIGN(n.encapsulation, r.str(obj, "spec.encapsulation"));
  if (!n.encapsulation.empty() && n.encapsulation != "vxlan" && n.encapsulation != "native") {
    return r.error("spec.encapsulation", "expected vxlan or native");
  }
  return n;
}

}  // namespace petrel::k8s
