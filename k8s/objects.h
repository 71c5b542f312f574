// Typed views of the Kubernetes objects the agent (and the operator) watch, decoded from the
// API's JSON with validation: the one decoder of each kind. A decoder never throws: a bad object
// (wrong types, invalid IPs, ports out of range, unknown enum values) yields INVALID_ARGUMENT
// naming the object and the field, and the caller logs and skips it. The policy kinds have
// their own headers: network_policy.h and cluster_network_policy.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/ip.h"
#include "common/status.h"

namespace petrel::k8s {

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // empty for cluster-scoped objects
  std::string uid;
  std::string resource_version;
  std::string creation_timestamp;  // RFC 3339, as the server wrote it
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  bool deleting = false;  // metadata.deletionTimestamp is set
  // "namespace/name" or "name": the cache key.
  std::string key() const { return namespace_.empty() ? name : namespace_ + "/" + name; }
};

struct Node {
  ObjectMeta meta;
  std::vector<std::string> pod_cidrs;  // spec.podCIDRs (or spec.podCIDR)
  std::vector<Ipv4Addr> internal_ips;
  bool ready = false;
};

struct Pod {
  ObjectMeta meta;
  std::string node_name;
  std::string service_account;
  bool host_network = false;
  std::string phase;
  std::vector<Ipv4Addr> pod_ips;
  struct ContainerPort {
    std::string name;
    uint16_t port = 0;
    std::string protocol;  // TCP, UDP, SCTP
  };
  std::vector<ContainerPort> ports;
};

struct Namespace {
  ObjectMeta meta;
};

struct ServicePort {
  std::string name;
  std::string protocol;  // TCP, UDP, SCTP
  uint16_t port = 0;
  uint16_t target_port = 0;      // numeric targetPort, 0 when named
  std::string target_port_name;  // named targetPort, resolved per endpoint
  uint16_t node_port = 0;
};

struct Service {
  ObjectMeta meta;
  std::string type;  // ClusterIP, NodePort, LoadBalancer, ExternalName
  bool headless = false;
  std::vector<Ipv4Addr> cluster_ips;
  std::vector<Ipv4Addr> external_ips;
  std::vector<Ipv4Addr> load_balancer_ips;  // status.loadBalancer.ingress[].ip
  std::vector<ServicePort> ports;
  std::map<std::string, std::string> selector;
  bool session_affinity_client_ip = false;
  uint32_t session_affinity_timeout = 10800;
  bool external_traffic_local = false;
  bool internal_traffic_local = false;
};

struct EndpointSlice {
  ObjectMeta meta;
  std::string service_name;  // label kubernetes.io/service-name
  std::string address_type;  // IPv4, IPv6, FQDN
  struct Endpoint {
    std::vector<Ipv4Addr> addresses;
    bool ready = true;
    bool serving = true;
    bool terminating = false;
    std::string node_name;
    std::string pod_name;  // targetRef when it is a Pod
  };
  std::vector<Endpoint> endpoints;
  struct Port {
    std::string name;
    std::string protocol;
    uint16_t port = 0;
  };
  std::vector<Port> ports;
};

// petrel.io/v1alpha1 PetrelNode (charts/petrel/crds): one per node, its pod CIDRs (allocated by
// the operator), addresses and encapsulation.
struct PetrelNode {
  ObjectMeta meta;
  std::vector<Ipv4Cidr> pod_cidrs;  // spec.ipam.podCIDRs (IPv4 ones)
  // Entries of spec.ipam.podCIDRs that are no CIDR at all: skipped here, not an error, so the
  // operator can see (and replace) them; agents route the others.
  std::vector<std::string> malformed_pod_cidrs;
  std::vector<Ipv4Addr> internal_ips;
  std::string encapsulation;  // "vxlan", "native" or "" (the agent's default)
};

Result<ObjectMeta> decodeMeta(const nlohmann::json& obj, bool namespaced);
Result<Node> decodeNode(const nlohmann::json& obj);
Result<Pod> decodePod(const nlohmann::json& obj);
Result<Namespace> decodeNamespace(const nlohmann::json& obj);
Result<Service> decodeService(const nlohmann::json& obj);
Result<EndpointSlice> decodeEndpointSlice(const nlohmann::json& obj);
Result<PetrelNode> decodePetrelNode(const nlohmann::json& obj);

}  // namespace petrel::k8s
