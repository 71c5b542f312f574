// Fuzz entry for the agent's Kubernetes object decoders (k8s/objects.h and the policy models of
// k8s/network_policy.h and k8s/cluster_network_policy.h): the bytes are
// parsed as JSON and, when that succeeds, every decoder runs on the object and on variants whose
// "spec", "status" and "metadata" swap values, so deep paths see foreign shapes. Used by the
// libFuzzer target (-DPETREL_FUZZ=ON, clang) and by the corpus replay test in every unit pass.
// Traps when a decoder breaks its contract (an escaped exception also aborts the fuzzer).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "k8s/cluster_network_policy.h"
#include "k8s/network_policy.h"
#include "k8s/objects.h"

namespace {

using nlohmann::json;
using namespace petrel;
using namespace petrel::k8s;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// A failed decode must be INVALID_ARGUMENT with a message naming the kind.
template <typename T>
void checkError(const Result<T>& r, std::string_view kind) {
  if (r) return;
  check(r.status().code() == Code::kInvalidArgument);
  check(r.status().message().find(kind) != std::string::npos);
}

void checkMeta(const ObjectMeta& m, bool namespaced) {
  check(!m.name.empty());
  check(!namespaced || !m.namespace_.empty());
  check(!m.key().empty());
}

void decodeAll(const json& obj) {
  auto node = decodeNode(obj);
  checkError(node, "Node");
  if (node) checkMeta(node->meta, false);

  auto pod = decodePod(obj);
  checkError(pod, "Pod");
  if (pod) {
    checkMeta(pod->meta, true);
    for (const auto& p : pod->ports) check(p.port != 0 && !p.protocol.empty());
  }

  auto ns = decodeNamespace(obj);
  checkError(ns, "Namespace");
  if (ns) checkMeta(ns->meta, false);

  auto svc = decodeService(obj);
  checkError(svc, "Service");
  if (svc) {
    checkMeta(svc->meta, true);
    check(svc->session_affinity_timeout >= 1 && svc->session_affinity_timeout <= 86400);
    for (const auto& p : svc->ports) {
      check(p.port != 0);
      check(p.target_port != 0 || !p.target_port_name.empty());
    }
  }

  auto slice = decodeEndpointSlice(obj);
  checkError(slice, "EndpointSlice");
  if (slice) {
    checkMeta(slice->meta, true);
    for (const auto& p : slice->ports) check(p.port != 0);
    if (slice->address_type != "IPv4") {
      for (const auto& e : slice->endpoints) check(e.addresses.empty());
    }
  }

  auto policy = decodeNetworkPolicy(obj);
  checkError(policy, "NetworkPolicy");
  if (policy) {
    checkMeta(policy->meta, true);
    check(policy->policy_types.ingress || policy->policy_types.egress);
    for (const auto* rules : {&policy->ingress, &policy->egress}) {
      for (const auto& rule : *rules) {
        for (const auto& port : rule.ports) {
          check(port.end_port == 0 || (port.port != 0 && port.end_port >= port.port));
          check(port.port_name.empty() || isServiceName(port.port_name));
        }
        for (const auto& peer : rule.peers) {
          check(peer.ip_block.has_value() != (peer.pod_selector || peer.namespace_selector));
          if (!peer.ip_block || peer.ip_block->ipv6) continue;
          for (const auto& except : peer.ip_block->except) {
            check(except.prefix_len > peer.ip_block->cidr.prefix_len);
            check(peer.ip_block->cidr.contains(except.base));
          }
        }
      }
    }
  }

  auto cluster_policy = decodeClusterNetworkPolicy(obj);
  checkError(cluster_policy, "ClusterNetworkPolicy");
  if (cluster_policy) {
    checkMeta(cluster_policy->meta, false);
    check(cluster_policy->priority >= 0 && cluster_policy->priority <= 1000);
    for (const auto* rules : {&cluster_policy->ingress, &cluster_policy->egress}) {
      check(rules->size() <= kClusterPolicyMaxItems);
      for (const auto& rule : *rules) {
        check(!rule.peers.empty() && rule.peers.size() <= kClusterPolicyMaxItems);
        check(rule.protocols.size() <= kClusterPolicyMaxItems);
        for (const auto& port : rule.protocols) {
          check(!port.named_port.empty() ||
                (port.first_port != 0 && port.first_port <= port.last_port));
        }
      }
    }
  }

  auto petrel_node = decodePetrelNode(obj);
  checkError(petrel_node, "PetrelNode");
  if (petrel_node) {
    checkMeta(petrel_node->meta, false);
    check(petrel_node->encapsulation.empty() || petrel_node->encapsulation == "vxlan" ||
          petrel_node->encapsulation == "native");
  }

  auto meta = decodeMeta(obj, false);
  checkError(meta, "object");
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  json obj = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return 0;
  decodeAll(obj);
  if (!obj.is_object()) return 0;

  // Each top-level section takes each other's value (or goes missing), so decoders meet a
  // "status" shaped like a "spec", a "metadata" that is a list, and so on.
  static constexpr std::array<const char*, 3> kFields = {"spec", "status", "metadata"};
  for (const char* to : kFields) {
    for (const char* from : kFields) {
      if (std::string_view(to) == from) continue;
      auto src = obj.find(from);
      json variant = obj;
      if (src == obj.end()) {
        variant.erase(to);
      } else {
        variant[to] = *src;
      }
      decodeAll(variant);
    }
  }
  return 0;
}
