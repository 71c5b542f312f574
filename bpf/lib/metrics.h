/* Per-CPU packet/byte counters by reason and direction: the single exit path of every program
 * counts here. */
#pragma once

#include "map_defs.h"
#include "reasons.h"

static __always_inline void metrics_count(__u32 reason, __u32 dir, __u64 bytes) {
  __u32 key = (reason & (PETREL_REASON_MAX - 1)) * METRIC_DIR_MAX + dir;
  struct metric_value* value = bpf_map_lookup_elem(&petrel_metrics, &key);
  if (value) {
    value->packets += 1;
    value->bytes += bytes;
  }
}
