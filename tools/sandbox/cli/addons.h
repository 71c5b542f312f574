// The cluster add-ons `up` installs once the nodes are Ready: the manifests Petrel ships in
// tools/sandbox/manifests (embedded at build time; today CoreDNS as the cluster DNS), applied
// server-side with field manager petrel-sandbox, then waited on until their pods are Ready.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "k8s/rest_client.h"
#include "tools/sandbox/cli/layout.h"

namespace petrel::sandbox {

// CoreDNS (coredns.yaml) for the layout's cluster domain and DNS Service IP, and a wait of at
// most `limit` for its pod to be Ready, printing progress.
Status installClusterDns(const k8s::RestClient& admin, const Layout& layout,
                         std::chrono::seconds limit);

// The objects of a multi-document YAML manifest with each ${NAME} of `vars` replaced.
Result<std::vector<nlohmann::json>> manifestObjects(
    const std::string& text, const std::vector<std::pair<std::string, std::string>>& vars);

// The API path of an object: /api/v1/namespaces/<ns>/<kind>s/<name> or /apis/<group>/...
std::string objectPath(const nlohmann::json& object);

}  // namespace petrel::sandbox
