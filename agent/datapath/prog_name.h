// The kernel names of loaded BPF programs, and which of them are Petrel's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace petrel::datapath {

// The kernel name of the program with `id` (at most 15 characters: the kernel truncates), ""
// when it cannot be read (gone meanwhile, or no permission).
std::string programNameById(uint32_t id);

// Whether a program's kernel name is one of Petrel's: every program Petrel attaches is named
// petrel_* (bpf/progs).
bool isPetrelProgramName(std::string_view name);

}  // namespace petrel::datapath
