// The services reconciler without root: Services and EndpointSlices from an in-memory source,
// the LB writer over in-memory maps (FakeMap), and a resetter that records. Checks what the maps
// hold after each change, and which removed backends have their clients reset and when.
#include "agent/daemon/service_reconciler.h"

#include <arpa/inet.h>

#include <map>
#include <tuple>

#include <gtest/gtest.h>

#include "agent/datapath/fake_map.h"
#include "agent/datapath/lb_datapath.h"

namespace petrel::agent {
namespace {

class FakeInputs : public ServiceInputs {
 public:
  bool synced() const override { return synced_; }
  std::vector<k8s::Service> services() const override {
    std::vector<k8s::Service> out;
    for (const auto& [k, s] : services_) out.push_back(s);
    return out;
  }
  std::optional<k8s::Service> service(const std::string& key) const override {
    auto it = services_.find(key);
    return it == services_.end() ? std::nullopt : std::optional(it->second);
  }
  std::vector<k8s::EndpointSlice> slices() const override {
    std::vector<k8s::EndpointSlice> out;
    for (const auto& [k, s] : slices_) out.push_back(s);
    return out;
  }
  std::optional<k8s::EndpointSlice> slice(const std::string& key) const override {
    auto it = slices_.find(key);
    return it == slices_.end() ? std::nullopt : std::optional(it->second);
  }
  std::vector<Ipv4Addr> nodeAddresses() const override { return {*Ipv4Addr::parse("192.0.2.1")}; }

  bool synced_ = true;
  std::map<std::string, k8s::Service> services_;
  std::map<std::string, k8s::EndpointSlice> slices_;
};

class RecordingResetter : public BackendResetter {
 public:
  void reset(Ipv4Addr ip, uint16_t port, uint8_t proto) override {
    resets.emplace_back(ip.toString(), port, proto);
  }
  std::vector<std::tuple<std::string, uint16_t, uint8_t>> resets;
};

k8s::Service webService() {
  k8s::Service s;
  s.meta.namespace_ = "shop";
  s.meta.name = "web";
  s.type = "ClusterIP";
  s.cluster_ips = {*Ipv4Addr::parse("10.96.0.10")};
  s.ports = {{"http", "TCP", 80, 8080, "", 0}};
  return s;
}

k8s::EndpointSlice::Endpoint endpoint(const char* ip, bool ready = true, bool serving = true,
                                      bool terminating = false) {
  k8s::EndpointSlice::Endpoint e;
  e.addresses = {*Ipv4Addr::parse(ip)};
  e.ready = ready;
  e.serving = serving;
  e.terminating = terminating;
  e.node_name = "node-1";
  return e;
}

k8s::EndpointSlice webSlice(std::vector<k8s::EndpointSlice::Endpoint> endpoints) {
  k8s::EndpointSlice s;
  s.meta.namespace_ = "shop";
  s.meta.name = "web-abc";
  s.service_name = "web";
  s.address_type = "IPv4";
  s.endpoints = std::move(endpoints);
  s.ports = {{"http", "TCP", 8080}};
  return s;
}

class ServiceReconcilerTest : public ::testing::Test {
 protected:
  ServiceReconcilerTest()
      : lb_(services_map_, backends_map_), r_("node-1", inputs_, lb_, resetter_) {
    lb_.onBackendRemoved(
        [this](Ipv4Addr ip, uint16_t port, uint8_t proto) { r_.backendRemoved(ip, port, proto); });
  }

  void setSlice(const k8s::EndpointSlice& s) {
    inputs_.slices_[s.meta.key()] = s;
    r_.sliceChanged(s, false);
  }
  Status pass(bool full = false) { return r_.reconcile(ReconcilePass{full}); }

  // The backends (address:port) the master entry of 10.96.0.10:80/TCP lets new connections
  // choose, read back from the maps as the programs would.
  std::vector<std::string> mapBackends() {
    lb_service_key key{};
    key.address = htonl(Ipv4Addr::parse("10.96.0.10")->value);
    key.port = htons(80);
    key.proto = 6;
    auto master = services_map_.lookup(key);
    if (!master) return {"no master entry"};
    std::vector<std::string> out;
    for (uint16_t slot = 1; slot <= master->count; ++slot) {
      key.slot = slot;
      auto v = services_map_.lookup(key);
      if (!v) return {"missing slot " + std::to_string(slot)};
      auto b = backends_map_.lookup(v->backend_id);
      if (!b) return {"missing backend " + std::to_string(v->backend_id)};
      out.push_back(Ipv4Addr{ntohl(b->address)}.toString() + ":" + std::to_string(ntohs(b->port)));
    }
    return out;
  }

  FakeInputs inputs_;
  datapath::FakeMap<lb_service_key, lb_service_value> services_map_{"petrel_lb_services"};
  datapath::FakeMap<uint32_t, lb_backend> backends_map_{"petrel_lb_backends"};
  datapath::BpfLbDatapath lb_;
  RecordingResetter resetter_;
  ServiceReconciler r_;
};

TEST_F(ServiceReconcilerTest, WaitsForSyncedInputs) {
  inputs_.synced_ = false;
  EXPECT_FALSE(r_.ready());
  inputs_.synced_ = true;
  EXPECT_TRUE(r_.ready());
}

TEST_F(ServiceReconcilerTest, WritesFrontendsAndResetsClientsOfARemovedBackend) {
  inputs_.services_["shop/web"] = webService();
  setSlice(webSlice({endpoint("10.244.1.5"), endpoint("10.244.1.6")}));
  ASSERT_TRUE(pass(true).isOk());
  EXPECT_EQ(mapBackends(), (std::vector<std::string>{"10.244.1.5:8080", "10.244.1.6:8080"}));
  EXPECT_EQ(backends_map_.size(), 2u);

  // An endpoint leaves the slice: an incremental pass drops it and resets its clients, once.
  setSlice(webSlice({endpoint("10.244.1.5")}));
  ASSERT_TRUE(pass().isOk());
  EXPECT_EQ(mapBackends(), (std::vector<std::string>{"10.244.1.5:8080"}));
  EXPECT_EQ(backends_map_.size(), 1u);
  ASSERT_EQ(resetter_.resets.size(), 1u);
  EXPECT_EQ(resetter_.resets[0],
            std::make_tuple(std::string("10.244.1.6"), uint16_t{8080}, uint8_t{6}));
  ASSERT_TRUE(pass(true).isOk());
  EXPECT_EQ(resetter_.resets.size(), 1u) << "a repair pass resets nobody again";
}

TEST_F(ServiceReconcilerTest, ATerminatingServingBackendDrainsUntilItsEndpointIsGone) {
  inputs_.services_["shop/web"] = webService();
  setSlice(webSlice({endpoint("10.244.1.5"), endpoint("10.244.1.6")}));
  ASSERT_TRUE(pass(true).isOk());

  // .6 terminates gracefully while .5 is ready: no new connections, open ones go on.
  setSlice(webSlice({endpoint("10.244.1.5"), endpoint("10.244.1.6", false, true, true)}));
  ASSERT_TRUE(pass().isOk());
  EXPECT_EQ(mapBackends(), (std::vector<std::string>{"10.244.1.5:8080"}));
  EXPECT_TRUE(resetter_.resets.empty());
  const uint32_t six = Ipv4Addr::parse("10.244.1.6")->value;
  EXPECT_EQ(r_.draining(), (std::set<core::EndpointAddr>{{six, 8080}}));

  // Its endpoint is gone: now its clients are reset (either protocol).
  setSlice(webSlice({endpoint("10.244.1.5")}));
  ASSERT_TRUE(pass().isOk());
  ASSERT_EQ(resetter_.resets.size(), 1u);
  EXPECT_EQ(resetter_.resets[0],
            std::make_tuple(std::string("10.244.1.6"), uint16_t{8080}, uint8_t{0}));
  EXPECT_TRUE(r_.draining().empty());
}

TEST_F(ServiceReconcilerTest, ADeletedServiceLeavesTheMaps) {
  inputs_.services_["shop/web"] = webService();
  setSlice(webSlice({endpoint("10.244.1.5")}));
  ASSERT_TRUE(pass(true).isOk());
  EXPECT_EQ(services_map_.size(), 2u);  // master + one slot
  auto svc = inputs_.services_["shop/web"];
  inputs_.services_.clear();
  r_.serviceChanged(svc);
  ASSERT_TRUE(pass().isOk());
  EXPECT_EQ(services_map_.size(), 0u);
  EXPECT_EQ(backends_map_.size(), 0u);
  EXPECT_EQ(resetter_.resets.size(), 1u);
}

TEST_F(ServiceReconcilerTest, AFailedWriteIsReportedAndTheRetryRecomputesEverything) {
  inputs_.services_["shop/web"] = webService();
  setSlice(webSlice({endpoint("10.244.1.5")}));
  services_map_.fail_updates = true;
  auto st = pass();
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("petrel_lb_services"), std::string::npos) << st.message();
  services_map_.fail_updates = false;
  ASSERT_TRUE(pass().isOk()) << "an incremental pass after a failure is a full one";
  EXPECT_EQ(mapBackends(), (std::vector<std::string>{"10.244.1.5:8080"}));
}

TEST_F(ServiceReconcilerTest, AFullServiceMapIsAnErrorNamingTheMap) {
  datapath::FakeMap<lb_service_key, lb_service_value> tiny("petrel_lb_services", 1);
  datapath::BpfLbDatapath lb(tiny, backends_map_);
  ServiceReconciler r("node-1", inputs_, lb, resetter_);
  inputs_.services_["shop/web"] = webService();
  inputs_.slices_["shop/web-abc"] = webSlice({endpoint("10.244.1.5")});
  auto st = r.reconcile(ReconcilePass{true});
  EXPECT_EQ(st.code(), Code::kResourceExhausted) << st.toString();
  EXPECT_NE(st.message().find("petrel_lb_services"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace petrel::agent
