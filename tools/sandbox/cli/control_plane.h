// The sandbox's Kubernetes control plane: the real etcd, kube-apiserver, kube-controller-manager
// and kube-scheduler (applets of build/bin/petrel-k8s), with a CA, serving and client
// certificates and kubeconfigs for each of them, the admin and every node's kubelet.
#pragma once

#include <string>

#include "common/status.h"
#include "tools/sandbox/cli/layout.h"

namespace petrel::sandbox {

// Where the control plane listens once started; every port is chosen free at start.
struct ControlPlane {
  std::string api_url;       // https://127.0.0.1:<api_port>, what the admin kubeconfig names
  std::string node_api_url;  // https://<hostIp>:<api_port>, what nodes and pods dial
  std::string etcd_url;      // http://127.0.0.1:<port>, loopback only
};

// Creates (or reuses) the PKI under <state_dir>/pki, writes the admin kubeconfig
// (layout.kubeconfig()) and one per component, then starts etcd, kube-apiserver (RBAC, Node
// authorization and NodeRestriction on), the controller manager and the scheduler as
// components of `state`, and waits until the API server is ready.
Result<ControlPlane> startControlPlane(SandboxState& state, const std::string& bin_dir);

// Writes node i's kubeconfigs, both naming the API server at https://<hostIp>:<api_port>:
// <node dir>/kubeconfig for its kubelet (user system:node:<name> in group system:nodes, so the
// Node authorizer and NodeRestriction judge it as a kubelet) and <node dir>/agent.kubeconfig for
// its agent (the admin's certificate).
Status writeNodeKubeconfigs(const Layout& layout, int i);

}  // namespace petrel::sandbox
