// CRD embedding, YAML to JSON, and create-or-update through the API.
#include "k8s/crds.h"

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

Status installCrds(const RestClient& client) {
  using namespace std::chrono_literals;
  auto crds = petrelCrds();
  if (!crds) return crds.status();
  const std::string base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  for (auto& crd : *crds) {
    const std::string name = crd["metadata"]["name"];
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
      continue;
    }
    if (got->status != 200) {
      return makeError(Code::kUnavailable, "get CRD {}: HTTP {}: {}", name, got->status,
                       messageOf(*got));
    }
    json current = json::parse(got->body, nullptr, false);
    if (current.is_object() && current.value("spec", json()) == crd["spec"]) continue;
    crd["metadata"]["resourceVersion"] = current["metadata"].value("resourceVersion", "");
    auto r = client.send("PUT", base + "/" + name, crd.dump(), 10s);
    if (!r) return r.status();
    if (r->status != 200) {
      return makeError(Code::kUnavailable, "update CRD {}: HTTP {}: {}", name, r->status,
                       messageOf(*r));
    }
    spdlog::info("updated CRD {}", name);
  }
  return Status::ok();
}

}  // namespace petrel::k8s
