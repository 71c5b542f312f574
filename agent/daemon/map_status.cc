// Status maps from datapath::readMapPressure.
#include "agent/daemon/map_status.h"

#include "agent/datapath/map_pressure.h"

namespace petrel::agent {

void fillMapPressure(const std::string& pin_root, api::v1::StatusResponse* out) {
  auto maps = datapath::readMapPressure(pin_root);
  if (!maps) {
    out->set_maps_error(maps.status().message());
    return;
  }
  for (const auto& m : *maps) {
    auto* p = out->add_maps();
    p->set_name(m.name);
    p->set_entries(m.entries);
    p->set_capacity(m.capacity);
    p->set_refused_writes(m.refused_writes);
    p->set_last_refused(m.last_refused);
    p->set_evicts(m.evicts);
  }
}

}  // namespace petrel::agent
