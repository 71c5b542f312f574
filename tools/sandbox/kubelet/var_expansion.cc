// $(VAR) expansion, following Kubernetes' expansion.Expand step by step.
#include "tools/sandbox/kubelet/var_expansion.h"

namespace petrel::sandbox {

std::string expandVars(std::string_view input, const VarLookup& lookup) {
  std::string out;
  size_t checkpoint = 0;
  for (size_t cursor = 0; cursor < input.size(); ++cursor) {
    if (input[cursor] != '$' || cursor + 1 >= input.size()) continue;
    out.append(input.substr(checkpoint, cursor - checkpoint));
    const std::string_view rest = input.substr(cursor + 1);
    size_t advance = 1;
    if (rest[0] == '$') {
      out += '$';  // escaped operator
    } else if (rest[0] == '(') {
      const size_t close = rest.find(')', 1);
      if (close == std::string_view::npos) {
        out += "$(";  // unclosed: copied, and scanning goes on after the "("
      } else {
        const std::string_view name = rest.substr(1, close - 1);
        auto value = lookup(name);
        out += value ? *value : "$(" + std::string(name) + ")";
        advance = close + 1;
      }
    } else {
      out += '$';
      out += rest[0];
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  if (checkpoint < input.size()) out.append(input.substr(checkpoint));
  return out;
}

}  // namespace petrel::sandbox
