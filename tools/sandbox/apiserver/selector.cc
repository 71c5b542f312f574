// Label and field selector parsing and matching.
#include "tools/sandbox/apiserver/selector.h"

#include <algorithm>
#include <cctype>

#include "common/json_path.h"

namespace petrel::apiserver {

using nlohmann::json;

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// A label key: optional DNS prefix + "/" + name of [A-Za-z0-9._-], at most 253+63 chars.
bool validKey(const std::string& k) {
  if (k.empty() || k.size() > 317) return false;
  for (char c : k) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == '/'))
      return false;
  }
  return std::count(k.begin(), k.end(), '/') <= 1 && k.back() != '/' && k.front() != '/';
}

bool validValue(const std::string& v) {
  if (v.size() > 63) return false;
  for (char c : v) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

// Splits on commas that are not inside parentheses.
Result<std::vector<std::string>> splitTopLevel(const std::string& text) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string cur;
  for (char c : text) {
    if (c == '(') {
      if (++depth > 1) return Status(Code::kInvalidArgument, "nested parentheses");
    } else if (c == ')') {
      if (--depth < 0) return Status(Code::kInvalidArgument, "unbalanced ')'");
    }
    if (c == ',' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (depth != 0) return Status(Code::kInvalidArgument, "unbalanced '('");
  parts.push_back(cur);
  return parts;
}

Status bad(const std::string& text, const std::string& why) {
  return Status(Code::kInvalidArgument, "unable to parse requirement: \"" + text + "\": " + why);
}

Result<LabelRequirement> parseRequirement(const std::string& raw) {
  std::string s = trim(raw);
  if (s.empty()) return bad(raw, "empty requirement");
  LabelRequirement r;
  if (s[0] == '!') {
    r.key = trim(s.substr(1));
    r.op = LabelRequirement::Op::kDoesNotExist;
    if (!validKey(r.key)) return bad(raw, "invalid label key \"" + r.key + "\"");
    return r;
  }
  // Set-based: "key in (a,b)" / "key notin (a,b)".
  size_t paren = s.find('(');
  if (paren != std::string::npos) {
    if (s.back() != ')') return bad(raw, "expected ')' at the end");
    std::string head = trim(s.substr(0, paren));
    size_t sp = head.find_last_of(" \t");
    if (sp == std::string::npos) return bad(raw, "expected \"in\" or \"notin\"");
    std::string op = head.substr(sp + 1);
    r.key = trim(head.substr(0, sp));
    if (op == "in") {
      r.op = LabelRequirement::Op::kIn;
    } else if (op == "notin") {
      r.op = LabelRequirement::Op::kNotIn;
    } else {
      return bad(raw, "unknown operator \"" + op + "\"");
    }
    if (!validKey(r.key)) return bad(raw, "invalid label key \"" + r.key + "\"");
    std::string inner = s.substr(paren + 1, s.size() - paren - 2);
    size_t start = 0;
    while (true) {
      size_t comma = inner.find(',', start);
      std::string v =
          trim(inner.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (!validValue(v)) return bad(raw, "invalid label value \"" + v + "\"");
      r.values.push_back(v);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (r.values.size() == 1 && r.values[0].empty() && r.op == LabelRequirement::Op::kIn) {
      return bad(raw, "for 'in' operator, values must not be empty");
    }
    return r;
  }
  size_t ne = s.find("!=");
  size_t eq = s.find('=');
  if (ne != std::string::npos) {
    r.op = LabelRequirement::Op::kNotEquals;
    r.key = trim(s.substr(0, ne));
    r.values = {trim(s.substr(ne + 2))};
  } else if (eq != std::string::npos) {
    r.op = LabelRequirement::Op::kEquals;
    r.key = trim(s.substr(0, eq));
    size_t vstart = eq + 1;
    if (vstart < s.size() && s[vstart] == '=') ++vstart;
    r.values = {trim(s.substr(vstart))};
  } else {
    r.op = LabelRequirement::Op::kExists;
    r.key = s;
  }
  if (!validKey(r.key)) return bad(raw, "invalid label key \"" + r.key + "\"");
  for (const auto& v : r.values) {
    if (!validValue(v)) return bad(raw, "invalid label value \"" + v + "\"");
  }
  return r;
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(const std::string& text) {
  LabelSelector sel;
  if (trim(text).empty()) return sel;
  auto parts = splitTopLevel(text);
  if (!parts) return bad(text, parts.status().message());
  for (const auto& p : *parts) {
    auto r = parseRequirement(p);
    if (!r) return r.status();
    sel.reqs_.push_back(std::move(*r));
  }
  return sel;
}

bool LabelSelector::matches(const json& labels) const {
  for (const auto& r : reqs_) {
    bool has = labels.is_object() && labels.contains(r.key) && labels[r.key].is_string();
    std::string v = has ? labels[r.key].get<std::string>() : "";
    bool inValues = has && std::find(r.values.begin(), r.values.end(), v) != r.values.end();
    switch (r.op) {
      case LabelRequirement::Op::kEquals:
      case LabelRequirement::Op::kIn:
        if (!inValues) return false;
        break;
      case LabelRequirement::Op::kNotEquals:
      case LabelRequirement::Op::kNotIn:
        if (inValues) return false;  // a missing label satisfies != and notin
        break;
      case LabelRequirement::Op::kExists:
        if (!has) return false;
        break;
      case LabelRequirement::Op::kDoesNotExist:
        if (has) return false;
        break;
    }
  }
  return true;
}

Result<FieldSelector> FieldSelector::parse(const std::string& text,
                                           const std::vector<std::string>& allowedFields) {
  FieldSelector sel;
  if (trim(text).empty()) return sel;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string part =
        trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    FieldRequirement r;
    size_t ne = part.find("!=");
    size_t eq = part.find('=');
    if (ne != std::string::npos) {
      r.negate = true;
      r.field = trim(part.substr(0, ne));
      r.value = trim(part.substr(ne + 2));
    } else if (eq != std::string::npos) {
      r.field = trim(part.substr(0, eq));
      size_t vstart = eq + 1;
      if (vstart < part.size() && part[vstart] == '=') ++vstart;
      r.value = trim(part.substr(vstart));
    } else {
      return Status(Code::kInvalidArgument,
                    "invalid selector: '" + part + "'; can't understand '" + part + "'");
    }
    if (std::find(allowedFields.begin(), allowedFields.end(), r.field) == allowedFields.end()) {
      return Status(Code::kInvalidArgument, "field label not supported: " + r.field);
    }
    sel.reqs_.push_back(std::move(r));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return sel;
}

std::string fieldValue(const json& object, const std::string& dottedPath) {
  const json& v = jsonAtDotted(object, dottedPath);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

bool FieldSelector::matches(const json& object) const {
  for (const auto& r : reqs_) {
    bool eq = fieldValue(object, r.field) == r.value;
    if (eq == r.negate) return false;
  }
  return true;
}

}  // namespace petrel::apiserver
