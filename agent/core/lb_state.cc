// LbState names for output.
#include "agent/core/lb_state.h"

namespace petrel::core {

const char* lbKindName(LbKind kind) {
  switch (kind) {
#define PETREL_LB_KIND_CASE(name, cxx_name, value, text) \
  case LbKind::k##cxx_name:                              \
    return text;
    PETREL_LB_KINDS(PETREL_LB_KIND_CASE)
#undef PETREL_LB_KIND_CASE
  }
  return "?";
}

std::string LbFrontend::toString() const {
  return ip.toString() + ":" + std::to_string(port) + (proto == kProtoUdp ? "/UDP" : "/TCP");
}

}  // namespace petrel::core
