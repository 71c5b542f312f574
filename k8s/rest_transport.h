// RestTransport: the informers' ApiTransport (list and watch by path) over a RestClient.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "k8s/list_watcher.h"
#include "k8s/rest_client.h"

namespace petrel::k8s {

// ApiTransport over libcurl.
class RestTransport : public ApiTransport {
 public:
  RestTransport(const RestClient& client, std::chrono::seconds stall_timeout)
      : client_(client), stall_timeout_(stall_timeout) {}
  Result<std::pair<long, std::string>> get(const std::string& path) override;
  Status watch(const std::string& path, const std::function<bool(std::string_view)>& on_line,
               const std::atomic<bool>& stop) override;

 private:
  const RestClient& client_;
  std::chrono::seconds stall_timeout_;
};

}  // namespace petrel::k8s
