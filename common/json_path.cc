// JSON path reads: one step function, walked by key lists and dotted paths alike.
#include "common/json_path.h"

namespace petrel {

using nlohmann::json;

namespace {

const json kNull;

// The member `key` of `cur`, or null when `cur` is not an object or has no such member.
const json& step(const json& cur, std::string_view key) {
  if (!cur.is_object()) return kNull;
  auto it = cur.find(std::string(key));
  return it == cur.end() ? kNull : *it;
}

}  // namespace

const json& jsonAt(const json& obj, JsonPath path) {
  const json* cur = &obj;
  for (std::string_view key : path) cur = &step(*cur, key);
  return *cur;
}

const json& jsonAtDotted(const json& obj, std::string_view dotted) {
  const json* cur = &obj;
  for (;;) {
    const size_t dot = dotted.find('.');
    cur = &step(*cur, dotted.substr(0, dot));
    if (dot == std::string_view::npos) return *cur;
    dotted.remove_prefix(dot + 1);
  }
}

std::string stringAt(const json& obj, JsonPath path, std::string_view def) {
  const json& v = jsonAt(obj, path);
  return v.is_string() ? v.get<std::string>() : std::string(def);
}

std::vector<std::string> stringsAt(const json& obj, JsonPath path) {
  std::vector<std::string> out;
  const json& v = jsonAt(obj, path);
  if (!v.is_array()) return out;
  for (const auto& s : v) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace petrel
