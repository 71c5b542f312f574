// The layouts of bpf/shared are compiled twice, by clang for BPF and by the C++ compiler for the
// agent and the CLI; both must agree byte for byte, or a map entry written by one side is read
// wrongly by the other. For every struct of bpf/shared this compares the C++ view (sizeof, and
// offsetof and sizeof of every member) with the BTF of the built BPF objects (the embedded
// skeletons, opened but not loaded). The list below must name every struct the headers define
// and every member BTF knows, so a struct or member added without a check fails here too.
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cstddef>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "maps.h"  // first: the skeletons' views of .bss use its structs

#include "lxc.skel.h"
#include "overlay.skel.h"
#include "sock.skel.h"
#include "uplink.skel.h"

namespace petrel::bpftest {
namespace {

struct Member {
  std::string name;
  size_t offset;
  size_t size;
  bool operator==(const Member&) const = default;
};

struct Layout {
  std::string name;
  size_t size;
  std::vector<Member> members;  // in declaration order; members of anonymous unions inline
};

// A member as C++ sees it: name, offset and size.
#define PETREL_MEMBER(type, member) (Member{#member, offsetof(type, member), sizeof(type::member)})

// The C++ view of every struct in bpf/shared.
std::vector<Layout> cxxLayouts() {
  return {
      {"endpoint_key",
       sizeof(endpoint_key),
       {PETREL_MEMBER(endpoint_key, ip4), PETREL_MEMBER(endpoint_key, ip6),
        PETREL_MEMBER(endpoint_key, family), PETREL_MEMBER(endpoint_key, pad)}},
      {"endpoint_info",
       sizeof(endpoint_info),
       {PETREL_MEMBER(endpoint_info, ifindex), PETREL_MEMBER(endpoint_info, endpoint_id),
        PETREL_MEMBER(endpoint_info, identity), PETREL_MEMBER(endpoint_info, flags),
        PETREL_MEMBER(endpoint_info, pod_mac), PETREL_MEMBER(endpoint_info, host_mac)}},
      {"metric_value",
       sizeof(metric_value),
       {PETREL_MEMBER(metric_value, packets), PETREL_MEMBER(metric_value, bytes)}},
      {"tunnel_key",
       sizeof(tunnel_key),
       {PETREL_MEMBER(tunnel_key, prefixlen), PETREL_MEMBER(tunnel_key, family),
        PETREL_MEMBER(tunnel_key, pad), PETREL_MEMBER(tunnel_key, ip4),
        PETREL_MEMBER(tunnel_key, ip6)}},
      {"tunnel_info",
       sizeof(tunnel_info),
       {PETREL_MEMBER(tunnel_info, ip4), PETREL_MEMBER(tunnel_info, ip6),
        PETREL_MEMBER(tunnel_info, family), PETREL_MEMBER(tunnel_info, pad)}},
      {"flow_key",
       sizeof(flow_key),
       {PETREL_MEMBER(flow_key, saddr), PETREL_MEMBER(flow_key, daddr),
        PETREL_MEMBER(flow_key, sport), PETREL_MEMBER(flow_key, dport),
        PETREL_MEMBER(flow_key, proto), PETREL_MEMBER(flow_key, dir),
        PETREL_MEMBER(flow_key, family), PETREL_MEMBER(flow_key, pad)}},
      {"nat_entry",
       sizeof(nat_entry),
       {PETREL_MEMBER(nat_entry, to_addr), PETREL_MEMBER(nat_entry, to_port),
        PETREL_MEMBER(nat_entry, flags), PETREL_MEMBER(nat_entry, pad),
        PETREL_MEMBER(nat_entry, last_seen_ns)}},
      {"nat_config",
       sizeof(nat_config),
       {PETREL_MEMBER(nat_config, node_ip4), PETREL_MEMBER(nat_config, pod_net4),
        PETREL_MEMBER(nat_config, pod_mask4), PETREL_MEMBER(nat_config, port_min),
        PETREL_MEMBER(nat_config, port_max), PETREL_MEMBER(nat_config, masquerade),
        PETREL_MEMBER(nat_config, tunnel_port), PETREL_MEMBER(nat_config, pad),
        PETREL_MEMBER(nat_config, tcp_timeout_ns), PETREL_MEMBER(nat_config, closing_timeout_ns),
        PETREL_MEMBER(nat_config, udp_timeout_ns)}},
      {"lb_service_key",
       sizeof(lb_service_key),
       {PETREL_MEMBER(lb_service_key, address), PETREL_MEMBER(lb_service_key, port),
        PETREL_MEMBER(lb_service_key, slot), PETREL_MEMBER(lb_service_key, proto),
        PETREL_MEMBER(lb_service_key, pad)}},
      {"lb_service_value",
       sizeof(lb_service_value),
       {PETREL_MEMBER(lb_service_value, backend_id), PETREL_MEMBER(lb_service_value, count),
        PETREL_MEMBER(lb_service_value, service_id),
        PETREL_MEMBER(lb_service_value, affinity_timeout),
        PETREL_MEMBER(lb_service_value, backend_address), PETREL_MEMBER(lb_service_value, flags),
        PETREL_MEMBER(lb_service_value, kind), PETREL_MEMBER(lb_service_value, backend_port)}},
      {"lb_backend",
       sizeof(lb_backend),
       {PETREL_MEMBER(lb_backend, address), PETREL_MEMBER(lb_backend, port),
        PETREL_MEMBER(lb_backend, proto), PETREL_MEMBER(lb_backend, flags)}},
      {"lb_affinity_key",
       sizeof(lb_affinity_key),
       {PETREL_MEMBER(lb_affinity_key, client), PETREL_MEMBER(lb_affinity_key, service_id),
        PETREL_MEMBER(lb_affinity_key, pad)}},
      {"lb_affinity_value",
       sizeof(lb_affinity_value),
       {PETREL_MEMBER(lb_affinity_value, last_used_ns),
        PETREL_MEMBER(lb_affinity_value, backend_id), PETREL_MEMBER(lb_affinity_value, pad)}},
      {"lb_sock_revnat_key",
       sizeof(lb_sock_revnat_key),
       {PETREL_MEMBER(lb_sock_revnat_key, cookie), PETREL_MEMBER(lb_sock_revnat_key, address),
        PETREL_MEMBER(lb_sock_revnat_key, port), PETREL_MEMBER(lb_sock_revnat_key, pad)}},
      {"lb_sock_revnat_value",
       sizeof(lb_sock_revnat_value),
       {PETREL_MEMBER(lb_sock_revnat_value, address), PETREL_MEMBER(lb_sock_revnat_value, port),
        PETREL_MEMBER(lb_sock_revnat_value, service_id)}},
      {"lb_sock_frontend",
       sizeof(lb_sock_frontend),
       {PETREL_MEMBER(lb_sock_frontend, cookie), PETREL_MEMBER(lb_sock_frontend, backend),
        PETREL_MEMBER(lb_sock_frontend, backend_port), PETREL_MEMBER(lb_sock_frontend, port),
        PETREL_MEMBER(lb_sock_frontend, address), PETREL_MEMBER(lb_sock_frontend, pad)}},
      {"ct_entry",
       sizeof(ct_entry),
       {PETREL_MEMBER(ct_entry, addr), PETREL_MEMBER(ct_entry, port),
        PETREL_MEMBER(ct_entry, service_id), PETREL_MEMBER(ct_entry, nat_port),
        PETREL_MEMBER(ct_entry, hop_len), PETREL_MEMBER(ct_entry, flags),
        PETREL_MEMBER(ct_entry, pad), PETREL_MEMBER(ct_entry, hop_smac),
        PETREL_MEMBER(ct_entry, hop_dmac), PETREL_MEMBER(ct_entry, hop_tunnel),
        PETREL_MEMBER(ct_entry, last_seen_ns), PETREL_MEMBER(ct_entry, hop_ns)}},
  };
}

#undef PETREL_MEMBER

// The members of the struct or union `type_id` at `base` bytes, anonymous unions and structs
// flattened into their parent, as C and C++ name them.
void btfMembers(const btf* b, uint32_t type_id, size_t base, std::vector<Member>& out) {
  const btf_type* t = btf__type_by_id(b, type_id);
  const btf_member* m = btf_members(t);
  for (int i = 0; i < btf_vlen(t); ++i) {
    const size_t offset = base + btf_member_bit_offset(t, static_cast<uint32_t>(i)) / 8;
    const std::string name = btf__name_by_offset(b, m[i].name_off);
    if (name.empty()) {
      btfMembers(b, static_cast<uint32_t>(btf__resolve_type(b, m[i].type)), offset, out);
      continue;
    }
    out.push_back({name, offset, static_cast<size_t>(btf__resolve_size(b, m[i].type))});
  }
}

// The structs defined in bpf/shared/*.h, read from the source.
std::set<std::string> sharedStructs() {
  std::set<std::string> out;
  const std::regex def(R"((^|\n)struct\s+(\w+)\s*\{)");
  for (const char* header : {"maps.h", "reasons.h", "lb_kinds.h"}) {
    const std::string path = std::string(PETREL_SOURCE_DIR) + "/bpf/shared/" + header;
    std::ifstream in(path);
    EXPECT_TRUE(in) << "cannot read " << path;
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    for (auto it = std::sregex_iterator(s.begin(), s.end(), def); it != std::sregex_iterator();
         ++it) {
      out.insert((*it)[2]);
    }
  }
  return out;
}

// The BTF of every object that includes bpf/shared, by object name.
class BtfLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lxc_ = lxc__open();
    overlay_ = overlay__open();
    uplink_ = uplink__open();
    sock_ = sock__open();
    ASSERT_TRUE(lxc_ && overlay_ && uplink_ && sock_) << "cannot open the embedded BPF objects";
    btfs_ = {{"lxc", bpf_object__btf(lxc_->obj)},
             {"overlay", bpf_object__btf(overlay_->obj)},
             {"uplink", bpf_object__btf(uplink_->obj)},
             {"sock", bpf_object__btf(sock_->obj)}};
    for (const auto& [name, b] : btfs_) ASSERT_NE(b, nullptr) << name << " has no BTF";
  }
  void TearDown() override {
    sock__destroy(sock_);
    uplink__destroy(uplink_);
    overlay__destroy(overlay_);
    lxc__destroy(lxc_);
  }

  struct lxc* lxc_ = nullptr;
  struct overlay* overlay_ = nullptr;
  struct uplink* uplink_ = nullptr;
  struct sock* sock_ = nullptr;
  std::map<std::string, const btf*> btfs_;
};

TEST_F(BtfLayoutTest, EverySharedStructIsChecked) {
  std::set<std::string> listed;
  for (const auto& l : cxxLayouts()) listed.insert(l.name);
  const std::set<std::string> defined = sharedStructs();
  ASSERT_FALSE(defined.empty());
  for (const auto& name : defined) {
    EXPECT_TRUE(listed.count(name)) << "struct " << name
                                    << " of bpf/shared has no layout check: add it to "
                                       "cxxLayouts() in this file";
  }
  for (const auto& name : listed) {
    EXPECT_TRUE(defined.count(name)) << name << " is checked but no longer defined in bpf/shared";
  }
}

TEST_F(BtfLayoutTest, CxxLayoutsMatchTheBtfOfEveryObject) {
  for (const auto& want : cxxLayouts()) {
    int seen = 0;
    for (const auto& [object, b] : btfs_) {
      const int id = btf__find_by_name_kind(b, want.name.c_str(), BTF_KIND_STRUCT);
      if (id <= 0) continue;  // this object does not use it
      ++seen;
      const std::string where = "struct " + want.name + " in " + object;
      EXPECT_EQ(static_cast<size_t>(btf__resolve_size(b, static_cast<uint32_t>(id))), want.size)
          << where << ": sizeof differs";
      std::vector<Member> got;
      btfMembers(b, static_cast<uint32_t>(id), 0, got);
      ASSERT_EQ(got.size(), want.members.size())
          << where << ": BTF has " << got.size() << " members, the check lists "
          << want.members.size();
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].name, want.members[i].name) << where << ": member " << i;
        EXPECT_EQ(got[i].offset, want.members[i].offset)
            << where << "." << got[i].name << ": offset differs";
        EXPECT_EQ(got[i].size, want.members[i].size)
            << where << "." << got[i].name << ": size differs";
      }
    }
    EXPECT_GT(seen, 0) << "struct " << want.name << " is in no object's BTF";
  }
}

}  // namespace
}  // namespace petrel::bpftest
