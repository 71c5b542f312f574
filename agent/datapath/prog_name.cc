// Program names by id through bpf_obj_get_info_by_fd.
#include "agent/datapath/prog_name.h"

#include <bpf/bpf.h>

#include "common/unique_fd.h"

namespace petrel::datapath {

std::string programNameById(uint32_t id) {
  UniqueFd fd(bpf_prog_get_fd_by_id(id));
  if (!fd) return "";
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return "";
  return info.name;
}

bool isPetrelProgramName(std::string_view name) {
  return name.substr(0, 7) == "petrel_";
}

}  // namespace petrel::datapath
