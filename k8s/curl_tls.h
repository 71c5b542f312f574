// applyTls: the cluster's TLS settings on a libcurl handle (defined in rest_client.cc), for code
// that drives its own handles, such as the benchmark loader that keeps one alive per thread.
#pragma once

#include <curl/curl.h>

#include "k8s/cluster_config.h"

namespace petrel::k8s {

// Sets the CA (or no verification when insecure_skip_verify) and the client certificate and key
// of `cfg` on `handle`.
void applyTls(CURL* handle, const ClusterConfig& cfg);

}  // namespace petrel::k8s
