// The EndpointSlice controller's logic as pure functions over the API's JSON: which pods back a
// Service, the endpoint and ports each pod contributes (named targetPorts resolved per pod),
// the desired slices (grouped by resolved port set, at most 100 endpoints each) and the plan
// that turns the existing managed slices into them with the fewest writes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace petrel::controller {

inline constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";
inline constexpr const char* kManagedByLabel = "endpointslice.kubernetes.io/managed-by";
inline constexpr const char* kManagedBy = "petrel-controller";
inline constexpr size_t kMaxEndpointsPerSlice = 100;

// The pod's IPv4 address: status.podIP when it is one, else the first IPv4 of status.podIPs;
// "" when it has none (the slices are IPv4 ones).
std::string podIPv4(const nlohmann::json& pod);

// True when `labels` has every key=value of `selector` (both JSON string maps).
bool selectorMatches(const nlohmann::json& selector, const nlohmann::json& labels);

// True when slices are managed for `service`: it has a non-empty spec.selector and is not
// ExternalName. Others are left alone (their slices, if any we made, are removed).
bool managesService(const nlohmann::json& service);

// True when `pod` is an endpoint of `service`: same namespace, labels match the selector,
// an IPv4 pod IP (podIPv4), phase neither Succeeded nor Failed.
bool podBacksService(const nlohmann::json& service, const nlohmann::json& pod);

// The pod's endpoint: addresses [podIPv4], conditions ready (Ready condition True and not
// terminating), serving (Ready True), terminating (deletionTimestamp set), nodeName, targetRef.
nlohmann::json endpointFor(const nlohmann::json& pod);

// The EndpointPort {name, protocol, port} of one Service port for `pod`: a numeric targetPort
// as is, a named one looked up in the pod's containers[].ports (nullopt when the pod lacks the
// name), no targetPort = the service port.
std::optional<nlohmann::json> resolvePort(const nlohmann::json& servicePort,
                                          const nlohmann::json& pod);

// One desired slice: ports and endpoints in canonical order.
struct DesiredSlice {
  nlohmann::json ports = nlohmann::json::array();
  nlohmann::json endpoints = nlohmann::json::array();
  bool operator==(const DesiredSlice&) const = default;
};

// The slices `service` should have given all `pods` (any namespace; filtered here): endpoints
// grouped by their resolved port set, sorted by pod name, split at kMaxEndpointsPerSlice. No
// matching pod = one slice without endpoints. Empty for services that are not managed.
std::vector<DesiredSlice> desiredSlices(const nlohmann::json& service,
                                        const std::vector<nlohmann::json>& pods);

// The writes that make `existing` (the managed slices of the service) hold the endpoints of
// `desired` with the least churn, as Kubernetes does: an endpoint stays in the slice it is in
// (its content refreshed), new endpoints fill slices with room before new slices are made,
// emptied slices go, and a slice that is already right is not written.
struct SlicePlan {
  std::vector<nlohmann::json> create;  // new objects (generateName "<svc>-")
  std::vector<nlohmann::json> update;  // existing objects with new content (resourceVersion kept)
  std::vector<nlohmann::json> remove;  // existing objects to delete
  bool empty() const { return create.empty() && update.empty() && remove.empty(); }
};
// `service` may be null (deleted): then every existing slice is removed.
SlicePlan planSlices(const nlohmann::json& service, const std::vector<DesiredSlice>& desired,
                     const std::vector<nlohmann::json>& existing);

// "3 ready, 1 terminating" (and "N not ready" when some are neither) for a slice's endpoints.
std::string summarizeEndpoints(const nlohmann::json& slice);

}  // namespace petrel::controller
