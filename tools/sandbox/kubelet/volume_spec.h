// A pod's volumes as the sandbox kubelet makes them, decoded from spec.volumes: file volumes
// (projected, configMap, secret, downwardAPI: files written under the pod's directory), emptyDir
// and hostPath. Errors name the field ("spec.volumes[2].projected.sources[0]: ...").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace petrel::sandbox {

// A key of a ConfigMap or Secret written to `path` in the volume.
struct KeyToPath {
  std::string key;
  std::string path;
};

// A downwardAPI file: `path` holds the value of `field_path` ("metadata.labels", ...).
struct FieldFile {
  std::string path;
  std::string field_path;
};

// One source of files: a projected volume has several, configMap/secret/downwardAPI one.
struct FileSource {
  enum class Kind { kServiceAccountToken, kConfigMap, kSecret, kDownwardApi };
  Kind kind = Kind::kConfigMap;
  std::string name;              // kConfigMap, kSecret: the object
  std::vector<KeyToPath> items;  //   the keys written; empty: every key, under its own name
  bool optional = false;         //   a missing object then gives no files, not an error
  std::string path;              // kServiceAccountToken: the file
  std::string audience;          //   empty: the API server's default
  int64_t expiration_seconds = 3600;
  std::vector<FieldFile> fields;  // kDownwardApi
};

struct VolumeSpec {
  enum class Kind { kFiles, kEmptyDir, kHostPath };
  std::string name;
  Kind kind = Kind::kEmptyDir;
  std::string type;                 // the field it came from: "projected", "configMap", ...
  std::vector<FileSource> sources;  // kFiles
  std::string host_path;            // kHostPath
  std::string host_path_type;       // kHostPath: "", DirectoryOrCreate, Directory, ...
};

// Decodes spec.volumes[i]; `where` prefixes errors ("shop/web: spec.volumes[0]").
Result<VolumeSpec> decodeVolume(const nlohmann::json& volume, const std::string& where);

}  // namespace petrel::sandbox
