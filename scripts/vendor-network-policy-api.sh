#!/usr/bin/env bash
# Copies the ClusterNetworkPolicy CRD of sigs.k8s.io/network-policy-api (the upstream API for
# cluster-wide and deny rules, Apache-2.0) at the pinned release from its Go module into
# charts/petrel/crds/, where Helm installs it and the build embeds it (k8s/crds.h). Run it after
# changing VERSION; the file is committed, so builds and installs need no network.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=v0.3.1
CHANNEL=standard  # or experimental (named ports, node and domain-name peers)
GO=${GO:-go}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && "$GO" mod init vendor-npapi >/dev/null 2>&1)
dir=$(cd "$scratch" && "$GO" mod download -json "sigs.k8s.io/network-policy-api@$VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
src="$dir/config/crd/$CHANNEL/policy.networking.k8s.io_clusternetworkpolicies.yaml"
[ -f "$src" ] || { echo "vendor-network-policy-api: $src not found" >&2; exit 1; }
out=charts/petrel/crds/policy.networking.k8s.io_clusternetworkpolicies.yaml
{
  echo "# ClusterNetworkPolicy: sigs.k8s.io/network-policy-api $VERSION, $CHANNEL channel, unchanged"
  echo "# (Apache-2.0, Copyright The Kubernetes Authors). Written by scripts/vendor-network-policy-api.sh."
  cat "$src"
} >"$out"
echo "wrote $out ($(wc -c <"$out") bytes) from $src"
