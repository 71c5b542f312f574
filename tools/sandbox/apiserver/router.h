// Path parsing for resource URLs:
//   /api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]
//   /apis/{group}/{version}[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace petrel::apiserver {

struct ResourcePath {
  std::string group;
  std::string version;
  std::string ns;  // "" when the path has no namespace
  std::string resource;
  std::string name;
  std::string subresource;
};

// Splits "/a/b/c" into {"a","b","c"}; empty segments are dropped; nullopt for segments that are
// "." or ".." or contain control characters.
std::optional<std::vector<std::string>> splitPath(const std::string& path);

// Parses a resource URL; nullopt when `path` is not one (discovery paths are not).
std::optional<ResourcePath> parseResourcePath(const std::string& path);

}  // namespace petrel::apiserver
