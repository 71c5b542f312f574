// Whole-file reads and atomic writes (temp file in the same directory, fsync, rename) with an
// explicit mode: the sandbox PKI writes keys 0600 and certificates 0644, `petrel-cni install`
// the plugin binary 0755 and its conflist 0644.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "common/status.h"

namespace petrel {

// The file's contents; kNotFound if it does not exist, another code if it cannot be read.
Result<std::string> readWholeFile(const std::filesystem::path& path);

// Replaces `path` with `content` so that readers see the old file or the new one, never a
// part; the new file has exactly `mode` (the umask does not apply).
Status writeFileAtomic(const std::filesystem::path& path, const std::string& content, mode_t mode);

}  // namespace petrel
