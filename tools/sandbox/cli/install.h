// Installing Petrel into the sandbox the way a user installs it into any cluster: `helm upgrade
// --install petrel charts/petrel` with the values this sandbox needs (its API server address,
// routing and acceleration modes, pod CIDR pool), then waiting for every agent to answer.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "tools/sandbox/cli/layout.h"

namespace petrel::sandbox {

// Where the chart is: the source tree's charts/petrel (the sandbox runs from a build tree).
std::string defaultChartDir();

// The `--set` values for this layout; `portmap`: chain the reference portmap plugin (hostPort).
std::vector<std::string> chartValues(const Layout& layout, bool portmap);

// Runs helm (the build's, an applet of petrel-k8s) with the admin kubeconfig, its cache and
// config under the state dir; the error carries helm's own message.
Status helm(const Layout& layout, const std::string& bin_dir, std::vector<std::string> args);

// helm upgrade --install of the chart (layout.chart_dir, else defaultChartDir()) as release
// "petrel" in kube-system, then waits until every node's agent is Ready and the operator is
// available.
Status installPetrel(const Layout& layout, const std::string& bin_dir, bool portmap);

}  // namespace petrel::sandbox
