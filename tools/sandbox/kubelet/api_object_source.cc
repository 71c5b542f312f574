// ConfigMaps, Secrets, TokenRequests and the kubernetes Service, read with the node's client.
#include "tools/sandbox/kubelet/api_object_source.h"

#include <ctime>

#include <fmt/format.h>

#include "common/json_path.h"

namespace petrel::sandbox {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string describe(const k8s::HttpResponse& r) {
  json body = json::parse(r.body, nullptr, false);
  std::string msg = body.is_object() ? body.value("message", r.body) : r.body;
  return fmt::format("HTTP {}: {}", r.status, msg.substr(0, 300));
}

Code codeOf(long http) {
  switch (http) {
    case 404:
      return Code::kNotFound;
    case 401:
    case 403:
      return Code::kPermissionDenied;
    case 400:
    case 422:
      return Code::kInvalidArgument;
    default:
      return Code::kUnavailable;
  }
}

// "2026-12-08T01:02:03Z" -> time point; nullopt when it is not that shape.
std::optional<SystemTime> parseRfc3339(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// The string members of the object at `key` ("data", "binaryData").
std::map<std::string, std::string> stringMembers(const json& obj, const char* key) {
  std::map<std::string, std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_object()) return out;
  for (auto m = it->begin(); m != it->end(); ++m) {
    if (m->is_string()) out[m.key()] = m->get<std::string>();
  }
  return out;
}

// The members of the object at `key` base64-decoded (a Secret's data, a ConfigMap's binaryData).
Result<std::map<std::string, std::string>> base64Members(const json& obj, const char* key,
                                                         const std::string& what) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : stringMembers(obj, key)) {
    auto bytes = decodeBase64(v);
    if (!bytes) return makeError(Code::kInternal, "{}: {}.{}: not base64", what, key, k);
    out[k] = std::move(*bytes);
  }
  return out;
}

}  // namespace

Result<std::string> decodeBase64(const std::string& in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=' || c == '\n' || c == '\r') {
      continue;
    } else {
      return Status(Code::kInvalidArgument, "not base64");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

Result<json> ApiObjectSource::getObject(const std::string& path, const std::string& what) {
  auto r = client_.get(path, 10s);
  if (!r) return r.status();
  if (r->status != 200) return makeError(codeOf(r->status), "{}: {}", what, describe(*r));
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object()) return makeError(Code::kInternal, "{}: answer is not JSON", what);
  return j;
}

Result<std::map<std::string, std::string>> ApiObjectSource::configMapData(const std::string& ns,
                                                                          const std::string& name) {
  const std::string what = fmt::format("configmap {}/{}", ns, name);
  auto cm = getObject(fmt::format("/api/v1/namespaces/{}/configmaps/{}", ns, name), "GET " + what);
  if (!cm) return cm.status();
  auto binary = base64Members(*cm, "binaryData", what);
  if (!binary) return binary.status();
  std::map<std::string, std::string> out = stringMembers(*cm, "data");
  out.merge(*binary);
  return out;
}

Result<std::map<std::string, std::string>> ApiObjectSource::secretData(const std::string& ns,
                                                                       const std::string& name) {
  const std::string what = fmt::format("secret {}/{}", ns, name);
  auto secret = getObject(fmt::format("/api/v1/namespaces/{}/secrets/{}", ns, name), "GET " + what);
  if (!secret) return secret.status();
  return base64Members(*secret, "data", what);
}

Result<IssuedToken> ApiObjectSource::requestToken(const PodSpec& pod, const FileSource& source) {
  json spec = {{"expirationSeconds", source.expiration_seconds},
               {"boundObjectRef",
                {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", pod.name}, {"uid", pod.uid}}}};
  if (!source.audience.empty()) spec["audiences"] = {source.audience};
  json request = {
      {"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}, {"spec", spec}};
  const std::string what =
      fmt::format("TokenRequest for serviceaccount {}/{}", pod.namespace_, pod.service_account);
  IssuedToken token;
  token.issued = std::chrono::system_clock::now();
  auto r = client_.send("POST",
                        fmt::format("/api/v1/namespaces/{}/serviceaccounts/{}/token",
                                    pod.namespace_, pod.service_account),
                        request.dump(), 10s);
  if (!r) return r.status();
  if (r->status != 201 && r->status != 200) {
    return makeError(codeOf(r->status), "{}: {}", what, describe(*r));
  }
  json answer = json::parse(r->body, nullptr, false);
  token.token = stringAt(answer, {"status", "token"});
  auto expires = parseRfc3339(stringAt(answer, {"status", "expirationTimestamp"}));
  if (token.token.empty() || !expires) {
    return makeError(Code::kInternal, "{}: answer has no token or expirationTimestamp", what);
  }
  token.expires = *expires;
  return token;
}

Result<ServiceAddress> ApiObjectSource::kubernetesService() {
  if (kubernetes_) return *kubernetes_;
  auto svc =
      getObject("/api/v1/namespaces/default/services/kubernetes", "GET service default/kubernetes");
  if (!svc) return svc.status();
  ServiceAddress out;
  out.ip = stringAt(*svc, {"spec", "clusterIP"});
  for (const auto& p : jsonAt(*svc, {"spec", "ports"})) {
    if (out.port == 0 || stringAt(p, {"name"}) == "https") out.port = p.value("port", 0);
  }
  if (out.ip.empty() || out.port == 0) {
    return Status(Code::kUnavailable, "service default/kubernetes has no clusterIP or port");
  }
  kubernetes_ = out;
  return out;
}

}  // namespace petrel::sandbox
