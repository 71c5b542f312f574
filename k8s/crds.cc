// CRD embedding, YAML to JSON, and create-or-update through the API.
#include "k8s/crds.h"

#include <chrono>
#include <thread>

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace petrel::k8s {

const std::vector<std::pair<std::string, std::string>>& embeddedCrdFiles();

using nlohmann::json;

namespace {

json scalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: always a string
  if (text == "true" || text == "True") return true;
  if (text == "false" || text == "False") return false;
  if (text == "null" || text == "~") return nullptr;
  if (!text.empty() && text.find_first_not_of("-0123456789") == std::string::npos && text != "-") {
    try {
      return std::stoll(text);
    } catch (const std::exception&) {
    }
  }
  return text;
}

json convert(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = convert(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(convert(item));
      return out;
    }
    case YAML::NodeType::Scalar:
      return scalar(node);
    default:
      return nullptr;
  }
}

std::string messageOf(const HttpResponse& r) {
  json body = json::parse(r.body, nullptr, false);
  return body.is_object() ? body.value("message", r.body) : r.body.substr(0, 300);
}

}  // namespace

Result<json> yamlToJson(const std::string& text) {
  try {
    return convert(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    return makeError(Code::kInvalidArgument, "YAML: {}", e.what());
  }
}

Result<std::vector<json>> petrelCrds() {
  std::vector<json> out;
  for (const auto& [file, text] : embeddedCrdFiles()) {
    auto crd = yamlToJson(text);
    if (!crd) return makeError(Code::kInternal, "{}: {}", file, crd.status().message());
    out.push_back(std::move(*crd));
  }
  return out;
}

namespace {

// FNV-1a of the embedded spec: marks a CRD as written from exactly this spec, since the server
// adds defaults to what it stores and a plain comparison would never match.
std::string specDigest(const json& spec) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : spec.dump()) h = (h ^ c) * 1099511628211ULL;
  return fmt::format("{:016x}", h);
}

bool established(const json& crd) {
  for (const auto& c : crd.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == "Established") return c.value("status", "") == "True";
  }
  return false;
}

// Waits until the API server serves the CRD's resource (condition Established).
Status waitEstablished(const RestClient& client, const std::string& path, const std::string& name) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto got = client.get(path, 10s);
    if (got && got->status == 200 && established(json::parse(got->body, nullptr, false))) {
      return Status::ok();
    }
    std::this_thread::sleep_for(100ms);
  }
  return makeError(Code::kUnavailable,
                   "CRD {} is not Established after 30 s: `kubectl get crd {} -o yaml` shows why",
                   name, name);
}

}  // namespace

Status installCrds(const RestClient& client) {
  using namespace std::chrono_literals;
  auto crds = petrelCrds();
  if (!crds) return crds.status();
  const std::string base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  for (auto& crd : *crds) {
    const std::string name = crd["metadata"]["name"];
    const std::string digest = specDigest(crd["spec"]);
    crd["metadata"]["annotations"]["petrel.io/spec-digest"] = digest;
    auto got = client.get(base + "/" + name, 10s);
    if (!got) return got.status();
    if (got->status == 404) {
      auto r = client.send("POST", base, crd.dump(), 10s);
      if (!r) return r.status();
      if (r->status != 201 && r->status != 409) {
        return makeError(Code::kUnavailable, "create CRD {}: HTTP {}: {}", name, r->status,
                         messageOf(*r));
      }
      spdlog::info("installed CRD {}", name);
    } else if (got->status != 200) {
      return makeError(Code::kUnavailable, "get CRD {}: HTTP {}: {}", name, got->status,
                       messageOf(*got));
    } else {
      json current = json::parse(got->body, nullptr, false);
      if (!current.is_object()) return makeError(Code::kInternal, "get CRD {}: not JSON", name);
      const json digest_now =
          current.value("/metadata/annotations/petrel.io~1spec-digest"_json_pointer, json());
      if (digest_now != digest) {
        crd["metadata"]["resourceVersion"] = current["metadata"].value("resourceVersion", "");
        auto r = client.send("PUT", base + "/" + name, crd.dump(), 10s);
        if (!r) return r.status();
        if (r->status != 200) {
          return makeError(Code::kUnavailable, "update CRD {}: HTTP {}: {}", name, r->status,
                           messageOf(*r));
        }
        spdlog::info("updated CRD {}", name);
      }
    }
    PETREL_RETURN_IF_ERROR(waitEstablished(client, base + "/" + name, name));
  }
  return Status::ok();
}

}  // namespace petrel::k8s
