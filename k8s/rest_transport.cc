// RestTransport: see rest_transport.h.
#include "k8s/rest_transport.h"

namespace petrel::k8s {

Result<std::pair<long, std::string>> RestTransport::get(const std::string& path) {
  auto resp = client_.get(path, std::chrono::seconds(30));
  if (!resp) return resp.status();
  return std::make_pair(resp->status, std::move(resp->body));
}

Status RestTransport::watch(const std::string& path,
                            const std::function<bool(std::string_view)>& on_line,
                            const std::atomic<bool>& stop) {
  return client_.watch(path, on_line, stall_timeout_, stop);
}

}  // namespace petrel::k8s
