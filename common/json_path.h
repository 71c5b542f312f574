// Reading JSON (API objects, CNI and sandbox state) by a path of object keys, forgiving about
// what is missing: a step that is absent or not an object reads as null, a value of another
// type as the default. Nothing here throws. For validation that must say what is wrong, decode
// instead (agent/k8s/objects.h).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace petrel {

// Object keys from the outside in, e.g. {"metadata", "name"}. A key may contain dots
// ({"metadata", "labels", "kubernetes.io/service-name"}).
using JsonPath = std::initializer_list<std::string_view>;

// The value at `path`, or a null value when a step is missing or not an object.
const nlohmann::json& jsonAt(const nlohmann::json& obj, JsonPath path);
// The same for a path written with dots, "metadata.name", as field selectors and a CRD's
// column paths write it (its keys contain no dots).
const nlohmann::json& jsonAtDotted(const nlohmann::json& obj, std::string_view dotted);
// The string at `path`, or `def` when it is missing or not a string.
std::string stringAt(const nlohmann::json& obj, JsonPath path, std::string_view def = "");
// The strings of the list at `path`, other entries skipped; empty when it is missing.
std::vector<std::string> stringsAt(const nlohmann::json& obj, JsonPath path);

}  // namespace petrel
