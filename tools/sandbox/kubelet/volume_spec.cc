// spec.volumes[i] JSON -> VolumeSpec.
#include "tools/sandbox/kubelet/volume_spec.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/json_path.h"

namespace petrel::sandbox {

namespace {

using nlohmann::json;

// A file name inside a volume: relative, no "..", not empty.
Status checkRelative(const std::string& path, const std::string& where) {
  if (path.empty()) return makeError(Code::kInvalidArgument, "{}: missing", where);
  if (path.front() == '/') {
    return makeError(Code::kInvalidArgument, "{}: \"{}\" must be a relative path", where, path);
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0) {
      return makeError(Code::kInvalidArgument, "{}: \"{}\" must not contain ..", where, path);
    }
    start = end + 1;
  }
  return Status::ok();
}

Result<std::vector<KeyToPath>> decodeItems(const json& src, const std::string& where) {
  std::vector<KeyToPath> out;
  const json& items = jsonAt(src, {"items"});
  if (items.is_null()) return out;
  if (!items.is_array()) return makeError(Code::kInvalidArgument, "{}.items: not a list", where);
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string at = fmt::format("{}.items[{}]", where, i);
    KeyToPath kp{stringAt(items[i], {"key"}), stringAt(items[i], {"path"})};
    if (kp.key.empty()) return makeError(Code::kInvalidArgument, "{}.key: missing", at);
    PETREL_RETURN_IF_ERROR(checkRelative(kp.path, at + ".path"));
    out.push_back(std::move(kp));
  }
  return out;
}

// configMap (name) or secret (secretName in a volume, name in a projection).
Result<FileSource> decodeObjectSource(const json& src, FileSource::Kind kind, const char* name_key,
                                      const std::string& where) {
  if (!src.is_object()) return makeError(Code::kInvalidArgument, "{}: not an object", where);
  FileSource out;
  out.kind = kind;
  out.name = stringAt(src, {name_key});
  if (out.name.empty()) return makeError(Code::kInvalidArgument, "{}.{}: missing", where, name_key);
  if (const json& o = jsonAt(src, {"optional"}); o.is_boolean()) out.optional = o.get<bool>();
  auto items = decodeItems(src, where);
  if (!items) return items.status();
  out.items = std::move(*items);
  return out;
}

Result<FileSource> decodeDownward(const json& src, const std::string& where) {
  if (!src.is_object()) return makeError(Code::kInvalidArgument, "{}: not an object", where);
  FileSource out;
  out.kind = FileSource::Kind::kDownwardApi;
  const json& items = jsonAt(src, {"items"});
  if (!items.is_null() && !items.is_array()) {
    return makeError(Code::kInvalidArgument, "{}.items: not a list", where);
  }
  for (size_t i = 0; items.is_array() && i < items.size(); ++i) {
    const std::string at = fmt::format("{}.items[{}]", where, i);
    FieldFile f{stringAt(items[i], {"path"}), stringAt(items[i], {"fieldRef", "fieldPath"})};
    PETREL_RETURN_IF_ERROR(checkRelative(f.path, at + ".path"));
    if (f.field_path.empty()) {
      return makeError(Code::kInvalidArgument,
                       "{}.fieldRef.fieldPath: missing (resourceFieldRef is not supported)", at);
    }
    out.fields.push_back(std::move(f));
  }
  return out;
}

Result<FileSource> decodeToken(const json& src, const std::string& where) {
  if (!src.is_object()) return makeError(Code::kInvalidArgument, "{}: not an object", where);
  FileSource out;
  out.kind = FileSource::Kind::kServiceAccountToken;
  out.path = stringAt(src, {"path"});
  PETREL_RETURN_IF_ERROR(checkRelative(out.path, where + ".path"));
  out.audience = stringAt(src, {"audience"});
  if (const json& e = jsonAt(src, {"expirationSeconds"}); !e.is_null()) {
    if (!e.is_number_integer() || e.get<int64_t>() < 600) {
      return makeError(Code::kInvalidArgument,
                       "{}.expirationSeconds: must be an integer of at least 600", where);
    }
    out.expiration_seconds = e.get<int64_t>();
  }
  return out;
}

Result<std::vector<FileSource>> decodeProjected(const json& src, const std::string& where) {
  const json& sources = jsonAt(src, {"sources"});
  if (!sources.is_array()) {
    return makeError(Code::kInvalidArgument, "{}.sources: missing or not a list", where);
  }
  std::vector<FileSource> out;
  for (size_t i = 0; i < sources.size(); ++i) {
    const std::string at = fmt::format("{}.sources[{}]", where, i);
    const json& s = sources[i];
    Result<FileSource> one = FileSource{};
    if (const json& t = jsonAt(s, {"serviceAccountToken"}); !t.is_null()) {
      one = decodeToken(t, at + ".serviceAccountToken");
    } else if (const json& c = jsonAt(s, {"configMap"}); !c.is_null()) {
      one = decodeObjectSource(c, FileSource::Kind::kConfigMap, "name", at + ".configMap");
    } else if (const json& sec = jsonAt(s, {"secret"}); !sec.is_null()) {
      one = decodeObjectSource(sec, FileSource::Kind::kSecret, "name", at + ".secret");
    } else if (const json& d = jsonAt(s, {"downwardAPI"}); !d.is_null()) {
      one = decodeDownward(d, at + ".downwardAPI");
    } else {
      return makeError(Code::kInvalidArgument,
                       "{}: needs serviceAccountToken, configMap, secret or downwardAPI", at);
    }
    if (!one) return one.status();
    out.push_back(std::move(*one));
  }
  return out;
}

}  // namespace

Result<VolumeSpec> decodeVolume(const json& volume, const std::string& where) {
  if (!volume.is_object()) return makeError(Code::kInvalidArgument, "{}: not an object", where);
  VolumeSpec out;
  out.name = stringAt(volume, {"name"});
  if (out.name.empty() || out.name.find('/') != std::string::npos || out.name == "." ||
      out.name == "..") {
    return makeError(Code::kInvalidArgument, "{}.name: missing or not a valid name", where);
  }
  auto files = [&](Result<std::vector<FileSource>> sources, const char* type) -> Status {
    if (!sources) return sources.status();
    out.kind = VolumeSpec::Kind::kFiles;
    out.type = type;
    out.sources = std::move(*sources);
    return Status::ok();
  };
  auto one = [](Result<FileSource> s) -> Result<std::vector<FileSource>> {
    if (!s) return s.status();
    return std::vector<FileSource>{std::move(*s)};
  };
  if (const json& p = jsonAt(volume, {"projected"}); !p.is_null()) {
    PETREL_RETURN_IF_ERROR(files(decodeProjected(p, where + ".projected"), "projected"));
  } else if (const json& c = jsonAt(volume, {"configMap"}); !c.is_null()) {
    PETREL_RETURN_IF_ERROR(files(
        one(decodeObjectSource(c, FileSource::Kind::kConfigMap, "name", where + ".configMap")),
        "configMap"));
  } else if (const json& s = jsonAt(volume, {"secret"}); !s.is_null()) {
    PETREL_RETURN_IF_ERROR(files(
        one(decodeObjectSource(s, FileSource::Kind::kSecret, "secretName", where + ".secret")),
        "secret"));
  } else if (const json& d = jsonAt(volume, {"downwardAPI"}); !d.is_null()) {
    PETREL_RETURN_IF_ERROR(files(one(decodeDownward(d, where + ".downwardAPI")), "downwardAPI"));
  } else if (volume.contains("emptyDir")) {
    out.kind = VolumeSpec::Kind::kEmptyDir;
    out.type = "emptyDir";
  } else if (const json& h = jsonAt(volume, {"hostPath"}); !h.is_null()) {
    out.kind = VolumeSpec::Kind::kHostPath;
    out.type = "hostPath";
    out.host_path = stringAt(h, {"path"});
    out.host_path_type = stringAt(h, {"type"});
    if (out.host_path.empty() || out.host_path.front() != '/') {
      return makeError(Code::kInvalidArgument, "{}.hostPath.path: must be an absolute path", where);
    }
    static const char* kTypes[] = {
        "",       "DirectoryOrCreate", "Directory",  "FileOrCreate", "File",
        "Socket", "CharDevice",        "BlockDevice"};
    if (std::find(std::begin(kTypes), std::end(kTypes), out.host_path_type) == std::end(kTypes)) {
      return makeError(Code::kInvalidArgument, "{}.hostPath.type: unknown value \"{}\"", where,
                       out.host_path_type);
    }
  } else {
    return makeError(Code::kInvalidArgument,
                     "{}: unsupported volume type (the sandbox supports projected, configMap, "
                     "secret, downwardAPI, emptyDir and hostPath)",
                     where);
  }
  return out;
}

}  // namespace petrel::sandbox
