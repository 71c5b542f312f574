// Whole-file reads and atomic writes (temp file in the same directory, fsync, rename) with an
// explicit mode: the PKI writes keys 0600 and certificates 0644.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "common/status.h"

namespace petrel::sandbox::pki {

// The file's contents; kNotFound if it does not exist, another code if it cannot be read.
Result<std::string> readWholeFile(const std::filesystem::path& path);

// Replaces `path` with `content` so that readers see the old file or the new one, never a
// part; the new file has exactly `mode` (the umask does not apply).
Status writeFileAtomic(const std::filesystem::path& path, const std::string& content, mode_t mode);

}  // namespace petrel::sandbox::pki
