// Resource URL parsing.
#include "tools/sandbox/apiserver/router.h"

namespace petrel::apiserver {

std::optional<std::vector<std::string>> splitPath(const std::string& path) {
  std::vector<std::string> segs;
  std::string cur;
  auto flush = [&]() -> bool {
    if (cur.empty()) return true;
    if (cur == "." || cur == "..") return false;
    segs.push_back(cur);
    cur.clear();
    return true;
  };
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
    if (c == '/') {
      if (!flush()) return std::nullopt;
    } else {
      cur += c;
    }
  }
  if (!flush()) return std::nullopt;
  return segs;
}

std::optional<ResourcePath> parseResourcePath(const std::string& path) {
  auto segs = splitPath(path);
  if (!segs || segs->empty()) return std::nullopt;
  ResourcePath rp;
  size_t i = 0;
  const auto& s = *segs;
  if (s[0] == "api") {
    if (s.size() < 3) return std::nullopt;
    rp.version = s[1];
    i = 2;
  } else if (s[0] == "apis") {
    if (s.size() < 4) return std::nullopt;
    rp.group = s[1];
    rp.version = s[2];
    i = 3;
  } else {
    return std::nullopt;
  }
  std::vector<std::string> rest(s.begin() + static_cast<long>(i), s.end());
  if (rest.size() >= 3 && rest[0] == "namespaces" && rest[2] != "status" && rest[2] != "finalize") {
    rp.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 3) return std::nullopt;
  rp.resource = rest[0];
  if (rest.size() >= 2) rp.name = rest[1];
  if (rest.size() == 3) rp.subresource = rest[2];
  return rp;
}

}  // namespace petrel::apiserver
