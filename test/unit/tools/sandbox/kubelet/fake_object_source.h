// An in-memory ObjectSource for the kubelet's tests: ConfigMaps and Secrets by "ns/name",
// tokens numbered by request, and an error to answer TokenRequests with.
#pragma once

#include <map>
#include <string>

#include "tools/sandbox/kubelet/object_source.h"

namespace petrel::sandbox {

class FakeObjectSource : public ObjectSource {
 public:
  using Data = std::map<std::string, std::string>;
  std::map<std::string, Data> config_maps;  // "ns/name" -> data
  std::map<std::string, Data> secrets;
  Status token_error = Status::ok();
  std::chrono::seconds token_lifetime{3600};
  SystemTime now{};  // tokens are issued at this time
  int tokens_issued = 0;
  std::string last_audience;

  Result<Data> configMapData(const std::string& ns, const std::string& name) override {
    return find(config_maps, ns, name, "configmap");
  }
  Result<Data> secretData(const std::string& ns, const std::string& name) override {
    return find(secrets, ns, name, "secret");
  }
  Result<IssuedToken> requestToken(const PodSpec& pod, const FileSource& source) override {
    if (!token_error) return token_error;
    last_audience = source.audience;
    ++tokens_issued;
    return IssuedToken{pod.service_account + "-token-" + std::to_string(tokens_issued), now,
                       now + token_lifetime};
  }

 private:
  static Result<Data> find(const std::map<std::string, Data>& in, const std::string& ns,
                           const std::string& name, const char* kind) {
    auto it = in.find(ns + "/" + name);
    if (it == in.end()) return makeError(Code::kNotFound, "{} {}/{} not found", kind, ns, name);
    return it->second;
  }
};

}  // namespace petrel::sandbox
