// The agent's answer to ListServices: the frontends and backends the service LB maps hold.
#pragma once

#include "agent.pb.h"
#include "agent/datapath/lb_datapath.h"

namespace petrel::agent {

void fillServiceList(const datapath::BpfLbDatapath& lb, api::v1::ListServicesResponse* out);

}  // namespace petrel::agent
