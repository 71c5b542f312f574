// Type-checked field access for the decoders: paths in errors, no exceptions.
#include "field_reader.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>

namespace petrel::k8s {

using nlohmann::json;

Result<const json*> FieldReader::object(const json& from, const std::string& path) const {
  const json* cur = &from;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object()) return error(path, "expected an object");
    auto it = cur->find(part);
    if (it == cur->end() || it->is_null()) return static_cast<const json*>(nullptr);
    cur = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

Result<const json*> FieldReader::requiredObject(const json& from, const std::string& path) const {
  const json* found = nullptr;
  PETREL_ASSIGN(found, object(from, path));
  if (!found) return error(path, "missing");
  if (!found->is_object()) return error(path, "expected an object");
  return found;
}

Result<std::string> FieldReader::str(const json& from, const std::string& path,
                                     const std::string& def) const {
  auto v = object(from, path);
  if (!v) return v.status();
  if (!*v) return def;
  if (!(*v)->is_string()) return error(path, "expected a string");
  return (*v)->get<std::string>();
}

Result<int64_t> FieldReader::integer(const json& from, const std::string& path, int64_t def) const {
  auto v = object(from, path);
  if (!v) return v.status();
  if (!*v) return def;
  if (!(*v)->is_number_integer()) return error(path, "expected an integer");
  return (*v)->get<int64_t>();
}

Result<bool> FieldReader::boolean(const json& from, const std::string& path, bool def) const {
  auto v = object(from, path);
  if (!v) return v.status();
  if (!*v) return def;
  if (!(*v)->is_boolean()) return error(path, "expected true or false");
  return (*v)->get<bool>();
}

Result<std::vector<const json*>> FieldReader::array(const json& from,
                                                    const std::string& path) const {
  auto v = object(from, path);
  if (!v) return v.status();
  std::vector<const json*> out;
  if (!*v) return out;
  if (!(*v)->is_array()) return error(path, "expected a list");
  for (const auto& e : **v) out.push_back(&e);
  return out;
}

Result<std::vector<std::string>> FieldReader::stringList(const json& from, const std::string& path,
                                                         const std::string& label) const {
  auto items = array(from, path);
  if (!items) return items.status();
  std::vector<std::string> out;
  for (const json* item : *items) {
    if (!item->is_string()) return error(label.empty() ? path : label, "expected strings");
    out.push_back(item->get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::string>> FieldReader::stringMap(const json& from,
                                                                  const std::string& path) const {
  auto v = object(from, path);
  if (!v) return v.status();
  std::map<std::string, std::string> out;
  if (!*v) return out;
  if (!(*v)->is_object()) return error(path, "expected a map of strings");
  for (const auto& [k, val] : (*v)->items()) {
    if (!val.is_string()) return error(path + "." + k, "expected a string");
    out[k] = val.get<std::string>();
  }
  return out;
}

Result<Ipv4Addr> FieldReader::ipv4(const std::string& text, const std::string& path) const {
  auto ip = Ipv4Addr::parse(text);
  if (!ip) return error(path, "'" + text + "' is not an IPv4 address");
  return *ip;
}

Result<uint16_t> FieldReader::port(const json& from, const std::string& path, bool required) const {
  auto v = integer(from, path, 0);
  if (!v) return v.status();
  if (*v == 0 && !required) return uint16_t{0};
  if (*v < 1 || *v > 65535) return error(path, std::to_string(*v) + " is not a port (1-65535)");
  return static_cast<uint16_t>(*v);
}

Result<std::string> FieldReader::protocol(const json& from, const std::string& path) const {
  auto p = str(from, path, "TCP");
  if (!p) return p;
  if (*p != "TCP" && *p != "UDP" && *p != "SCTP")
    return error(path, "unknown protocol '" + *p + "'");
  return p;
}

std::optional<AnyCidr> parseAnyCidr(const std::string& text) {
  AnyCidr out;
  if (text.find(':') == std::string::npos) {
    auto strict = Ipv4Cidr::parse(text);
    auto loose = strict ? strict : Ipv4Cidr::parse(text, /*allow_host_bits=*/true);
    if (!loose) return std::nullopt;
    out.v4 = *loose;
    out.prefix_len = loose->prefix_len;
    out.had_host_bits = !strict;
    return out;
  }
  auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  std::string addr = text.substr(0, slash);
  std::string len_text = text.substr(slash + 1);
  unsigned len = 0;
  auto [next, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (len_text.empty() || ec != std::errc() || next != len_text.data() + len_text.size() ||
      len > 128) {
    return std::nullopt;
  }
  if (inet_pton(AF_INET6, addr.c_str(), out.v6.data()) != 1) return std::nullopt;
  out.ipv6 = true;
  out.prefix_len = static_cast<uint8_t>(len);
  for (unsigned bit = len; bit < 128; ++bit) {
    uint8_t& byte = out.v6[bit / 8];
    const auto mask = static_cast<uint8_t>(0x80U >> (bit % 8));
    if (byte & mask) out.had_host_bits = true;
    byte = static_cast<uint8_t>(byte & ~mask);
  }
  return out;
}

bool AnyCidr::strictlyContains(const AnyCidr& inner) const {
  if (ipv6 != inner.ipv6 || inner.prefix_len <= prefix_len) return false;
  if (!ipv6) return v4.contains(inner.v4.base);
  for (unsigned bit = 0; bit < prefix_len; ++bit) {
    const auto mask = static_cast<uint8_t>(0x80U >> (bit % 8));
    if ((v6[bit / 8] & mask) != (inner.v6[bit / 8] & mask)) return false;
  }
  return true;
}

Result<ObjectMeta> decodeMetaOf(const json& obj, bool namespaced, FieldReader& r,
                                const char* kind) {
  if (!obj.is_object())
    return Status(Code::kInvalidArgument, std::string(kind) + ": not a JSON object");
  ObjectMeta m;
  PETREL_ASSIGN(m.name, r.str(obj, "metadata.name"));
  PETREL_ASSIGN(m.namespace_, r.str(obj, "metadata.namespace"));
  r.setWhat(std::string(kind) + " " +
            (m.namespace_.empty() ? m.name : m.namespace_ + "/" + m.name));
  if (m.name.empty()) return r.error("metadata.name", "missing");
  if (namespaced && m.namespace_.empty()) return r.error("metadata.namespace", "missing");
  PETREL_ASSIGN(m.uid, r.str(obj, "metadata.uid"));
  PETREL_ASSIGN(m.resource_version, r.str(obj, "metadata.resourceVersion"));
  PETREL_ASSIGN(m.creation_timestamp, r.str(obj, "metadata.creationTimestamp"));
  PETREL_ASSIGN(m.labels, r.stringMap(obj, "metadata.labels"));
  PETREL_ASSIGN(m.annotations, r.stringMap(obj, "metadata.annotations"));
  std::string deletion;
  PETREL_ASSIGN(deletion, r.str(obj, "metadata.deletionTimestamp"));
  m.deleting = !deletion.empty();
  return m;
}

}  // namespace petrel::k8s
