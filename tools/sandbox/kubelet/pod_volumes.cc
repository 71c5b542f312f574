// Volumes of a pod -> directories and files on the node; token renewal.
#include "tools/sandbox/kubelet/pod_volumes.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/sandbox/kubelet/container_env.h"

namespace petrel::sandbox {

namespace fs = std::filesystem;

namespace {

// Writes `text` to dir/rel through a temporary file and rename, so a reader never sees half.
Status writeAtomically(const std::string& dir, const std::string& rel, const std::string& text) {
  const fs::path path = fs::path(dir) / rel;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  const std::string tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return makeError(Code::kInternal, "cannot write {}", tmp);
  }
  fs::rename(tmp, path, ec);
  if (ec) return makeError(Code::kInternal, "cannot write {}: {}", path.string(), ec.message());
  return Status::ok();
}

Status makeHostPath(const VolumeSpec& v) {
  std::error_code ec;
  const std::string& p = v.host_path;
  const std::string& t = v.host_path_type;
  if (t == "DirectoryOrCreate") {
    fs::create_directories(p, ec);
    if (ec) return makeError(Code::kInternal, "hostPath {}: {}", p, ec.message());
  } else if (t == "FileOrCreate") {
    if (!fs::exists(p, ec)) {
      fs::create_directories(fs::path(p).parent_path(), ec);
      std::ofstream(p).flush();
    }
  } else if (t == "Directory" && !fs::is_directory(p, ec)) {
    return makeError(Code::kNotFound, "hostPath {}: not a directory", p);
  } else if (t == "File" && !fs::is_regular_file(p, ec)) {
    return makeError(Code::kNotFound, "hostPath {}: not a file", p);
  } else if (!t.empty() && t != "Directory" && t != "File" && !fs::exists(p, ec)) {
    return makeError(Code::kNotFound, "hostPath {}: does not exist", p);
  }
  return Status::ok();
}

}  // namespace

SystemTime tokenRenewalTime(SystemTime issued, SystemTime expires) {
  const auto lifetime = expires - issued;
  const auto at80 = issued + std::chrono::duration_cast<SystemTime::duration>(lifetime * 0.8);
  return std::min(at80, issued + std::chrono::hours(24));
}

std::string PodVolumes::volumeDir(const std::string& pod_dir, const std::string& volume) {
  return pod_dir + "/volumes/" + volume;
}

std::string PodVolumes::sourcePath(const PodSpec& pod, const std::string& pod_dir,
                                   const VolumeMount& mount) {
  std::string base = volumeDir(pod_dir, mount.name);
  for (const auto& v : pod.volumes) {
    if (v.name == mount.name && v.kind == VolumeSpec::Kind::kHostPath) base = v.host_path;
  }
  return mount.sub_path.empty() ? base : base + "/" + mount.sub_path;
}

Status PodVolumes::writeFiles(const PodSpec& pod, const VolumeSpec& volume, const std::string& dir,
                              std::vector<Token>& tokens) {
  for (const auto& src : volume.sources) {
    switch (src.kind) {
      case FileSource::Kind::kServiceAccountToken: {
        auto issued = objects_.requestToken(pod, src);
        if (!issued) return issued.status();
        PETREL_RETURN_IF_ERROR(writeAtomically(dir, src.path, issued->token));
        tokens.push_back({dir + "/" + src.path, src, *issued});
        break;
      }
      case FileSource::Kind::kConfigMap:
      case FileSource::Kind::kSecret: {
        const bool cm = src.kind == FileSource::Kind::kConfigMap;
        auto data = cm ? objects_.configMapData(pod.namespace_, src.name)
                       : objects_.secretData(pod.namespace_, src.name);
        if (!data) {
          if (data.status().code() == Code::kNotFound && src.optional) break;
          return makeError(data.status().code(), "{} \"{}\": {}", cm ? "configmap" : "secret",
                           src.name, data.status().message());
        }
        if (src.items.empty()) {
          for (const auto& [key, value] : *data) {
            PETREL_RETURN_IF_ERROR(writeAtomically(dir, key, value));
          }
        }
        for (const auto& item : src.items) {
          auto it = data->find(item.key);
          if (it == data->end()) {
            if (src.optional) continue;
            return makeError(Code::kNotFound, "{} \"{}\" has no key \"{}\"",
                             cm ? "configmap" : "secret", src.name, item.key);
          }
          PETREL_RETURN_IF_ERROR(writeAtomically(dir, item.path, it->second));
        }
        break;
      }
      case FileSource::Kind::kDownwardApi:
        for (const auto& f : src.fields) {
          auto value = fieldRefValue(pod, f.field_path, PodAddresses{});
          if (!value) return value.status();
          PETREL_RETURN_IF_ERROR(writeAtomically(dir, f.path, *value));
        }
        break;
    }
  }
  return Status::ok();
}

Status PodVolumes::setUp(const PodSpec& pod, const std::string& pod_dir) {
  std::vector<Token> tokens;
  for (const auto& v : pod.volumes) {
    Status s = Status::ok();
    const std::string dir = volumeDir(pod_dir, v.name);
    std::error_code ec;
    switch (v.kind) {
      case VolumeSpec::Kind::kHostPath:
        s = makeHostPath(v);
        break;
      case VolumeSpec::Kind::kEmptyDir:
        fs::create_directories(dir, ec);
        if (ec) s = makeError(Code::kInternal, "cannot create {}: {}", dir, ec.message());
        break;
      case VolumeSpec::Kind::kFiles:
        fs::create_directories(dir, ec);
        s = ec ? makeError(Code::kInternal, "cannot create {}: {}", dir, ec.message())
               : writeFiles(pod, v, dir, tokens);
        break;
    }
    if (!s) {
      return makeError(s.code(), "volume \"{}\" ({}): {}", v.name, v.type, s.message());
    }
  }
  tokens_[pod.uid] = std::move(tokens);
  return Status::ok();
}

Status PodVolumes::renewTokens(const PodSpec& pod, SystemTime now) {
  auto it = tokens_.find(pod.uid);
  if (it == tokens_.end()) return Status::ok();
  for (auto& t : it->second) {
    if (now < tokenRenewalTime(t.issued.issued, t.issued.expires)) continue;
    auto issued = objects_.requestToken(pod, t.source);
    if (!issued)
      return makeError(issued.status().code(), "renew token {}: {}", t.file,
                       issued.status().message());
    const fs::path file(t.file);
    PETREL_RETURN_IF_ERROR(
        writeAtomically(file.parent_path().string(), file.filename().string(), issued->token));
    t.issued = *issued;
    spdlog::info("pod {}: renewed service account token {}", pod.key(), t.file);
  }
  return Status::ok();
}

}  // namespace petrel::sandbox
