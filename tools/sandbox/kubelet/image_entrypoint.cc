// Image repositories -> local entrypoints.
#include "tools/sandbox/kubelet/image_entrypoint.h"

#include <sstream>

#include <fmt/format.h>

namespace petrel::sandbox {

std::string imageRepository(const std::string& image) {
  std::string repo = image.substr(0, image.find('@'));
  const size_t slash = repo.rfind('/');
  const size_t colon = repo.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    repo.resize(colon);
  }
  return repo;
}

Status ImageEntrypoints::add(const std::string& flag) {
  const size_t eq = flag.find('=');
  if (eq == std::string::npos || eq == 0) {
    return makeError(Code::kInvalidArgument, "--image-entrypoint \"{}\": want REPO=ARGV", flag);
  }
  std::string repo = flag.substr(0, eq);
  if (imageRepository(repo) != repo) {
    return makeError(Code::kInvalidArgument,
                     "--image-entrypoint \"{}\": REPO is an image name without tag or digest",
                     flag);
  }
  std::vector<std::string> argv;
  std::istringstream words(flag.substr(eq + 1));
  for (std::string w; words >> w;) argv.push_back(w);
  if (argv.empty()) {
    return makeError(Code::kInvalidArgument, "--image-entrypoint \"{}\": ARGV is empty", flag);
  }
  entries_[repo] = std::move(argv);
  return Status::ok();
}

std::vector<std::string> ImageEntrypoints::argv(const ContainerSpec& container) const {
  if (container.command.empty()) {
    if (auto it = entries_.find(imageRepository(container.image)); it != entries_.end()) {
      std::vector<std::string> out = it->second;
      out.insert(out.end(), container.args.begin(), container.args.end());
      return out;
    }
  }
  return container.argv();
}

}  // namespace petrel::sandbox
