// The resource registry: which group/version/resource triples the server serves (built-in types
// plus those defined by CustomResourceDefinitions), and the discovery documents built from it.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace petrel::apiserver {

// A CRD's additionalPrinterColumns entry.
struct PrinterColumn {
  std::string name;
  std::string type;      // "string", "integer", "date", ...
  std::string jsonPath;  // ".a.b" or ".a[?(@.k=='v')].b"
  int priority = 0;
};

struct ResourceType {
  std::string group;    // "" for core
  std::string version;  // "v1"
  std::string plural;   // "pods"
  std::string singular;
  std::string kind;  // "Pod"
  bool namespaced = true;
  bool hasStatus = false;  // a /status subresource exists (main PUT keeps the stored status)
  std::vector<std::string> shortNames;
  std::vector<std::string> fieldSelectors;  // fields beyond metadata.name/metadata.namespace
  std::vector<std::string> categories;
  bool fromCrd = false;
  std::vector<PrinterColumn> printerColumns;  // CRD types only

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  // The storage key shared by all versions of a resource: "pods",
  // "networkpolicies.networking.k8s.io".
  std::string storageKey() const { return group.empty() ? plural : plural + "." + group; }
  std::vector<std::string> allowedFields() const;
};

class Registry {
 public:
  // A registry with the built-in types (core, discovery, networking, coordination,
  // apiextensions).
  Registry();

  std::optional<ResourceType> find(const std::string& group, const std::string& version,
                                   const std::string& plural) const;
  // All types served for storage key `key` (several versions of one CRD).
  std::vector<ResourceType> byStorageKey(const std::string& key) const;
  bool groupVersionExists(const std::string& group, const std::string& version) const;
  bool groupExists(const std::string& group) const;
  // Every served type (a copy).
  std::vector<ResourceType> all() const;

  // Validates a CustomResourceDefinition object and returns the types it defines.
  static Result<std::vector<ResourceType>> typesFromCrd(const nlohmann::json& crd);
  // Replaces the types a CRD (by name) serves. Returns an error if it clashes with a built-in.
  Status installCrd(const nlohmann::json& crd);
  void removeCrd(const std::string& crdName);

  // Discovery documents.
  nlohmann::json apiVersions() const;                                      // /api
  nlohmann::json apiGroupList() const;                                     // /apis
  std::optional<nlohmann::json> apiGroup(const std::string& group) const;  // /apis/<g>
  std::optional<nlohmann::json> resourceList(const std::string& group,
                                             const std::string& version) const;

 private:
  std::vector<std::string> versionsOf(const std::string& group) const;
  std::vector<std::string> groupsInOrder() const;

  mutable std::mutex mu_;
  std::vector<ResourceType> types_;
};

}  // namespace petrel::apiserver
