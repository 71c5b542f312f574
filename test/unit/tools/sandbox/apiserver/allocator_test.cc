// Service ClusterIP and NodePort allocation: the lowest-free pool, and through the handler no
// address or port handed out twice across creates, deletes (one, namespace, collection),
// failed creates and snapshot reloads; requested values that are taken or out of range are 422.
#include <gtest/gtest.h>

#include <set>

#include "tools/sandbox/apiserver/allocator.h"
#include "tools/sandbox/apiserver/handler.h"

namespace petrel::apiserver {
namespace {

using nlohmann::json;

TEST(ApiserverIndexPool, HandsOutTheLowestFreeValueAndReusesReleasedOnes) {
  IndexPool pool(10, 14);
  EXPECT_EQ(pool.lowestFree(), 10u);
  pool.hold(10);
  pool.hold(12);  // held out of order, like a requested address
  EXPECT_EQ(pool.lowestFree(), 11u);
  pool.hold(11);
  EXPECT_EQ(pool.lowestFree(), 13u);
  pool.release(11);
  EXPECT_EQ(pool.lowestFree(), 11u);
  pool.hold(11);
  pool.hold(13);
  pool.hold(14);
  EXPECT_EQ(pool.lowestFree(), std::nullopt);
  pool.release(10);
  EXPECT_EQ(pool.lowestFree(), 10u);
  // Values outside the range are held but never handed out.
  pool.hold(99);
  EXPECT_TRUE(pool.held(99));
  pool.release(99);
  EXPECT_FALSE(pool.held(99));
  // Two holders: the value is free only after both let go.
  pool.hold(10);
  pool.hold(10);
  pool.release(10);
  EXPECT_TRUE(pool.held(10));
  pool.release(10);
  EXPECT_EQ(pool.lowestFree(), 10u);
  pool.clear();
  EXPECT_EQ(pool.heldCount(), 0u);
  EXPECT_EQ(pool.lowestFree(), 10u);
}

TEST(ApiserverServiceAllocations, RangeFromTheCidr) {
  ServiceAllocations a("10.96.0.0/28");  // .10 .. .14 (.15 is broadcast)
  EXPECT_TRUE(a.ipInRange("10.96.0.3"));
  EXPECT_FALSE(a.ipInRange("10.96.0.16"));
  std::vector<std::string> got;
  while (auto ip = a.reserveIp()) got.push_back(*ip);
  EXPECT_EQ(got, (std::vector<std::string>{"10.96.0.10", "10.96.0.11", "10.96.0.12", "10.96.0.13",
                                           "10.96.0.14"}));
  a.releaseReservations();
  EXPECT_EQ(a.heldIps(), 0u);
  ServiceAllocations none("not-a-cidr");
  EXPECT_FALSE(none.hasIpRange());
  EXPECT_EQ(none.reserveIp(), std::nullopt);
}

class ApiserverAllocator : public ::testing::Test {
 protected:
  ApiserverAllocator() { handler_->bootstrap(); }

  json call(const std::string& method, const std::string& path, const json& body, int* code,
            Handler* h = nullptr) {
    Request r;
    r.method = method;
    r.path = path;
    r.headers["content-type"] = "application/json";
    if (!body.is_null()) r.body = body.dump();
    Response resp = (h ? h : handler_.get())->handle(r);
    *code = resp.status;
    return json::parse(resp.body, nullptr, false);
  }
  json service(const std::string& name, const std::string& clusterIP = "",
               const std::string& type = "ClusterIP", json ports = json()) {
    json spec = {{"type", type},
                 {"ports", ports.is_null() ? json::array({{{"port", 80}}}) : std::move(ports)}};
    if (!clusterIP.empty()) spec["clusterIP"] = clusterIP;
    return {{"metadata", {{"name", name}}}, {"spec", spec}};
  }
  // Creates a Service; returns its clusterIP ("" on failure, with *code set).
  std::string create(const std::string& ns, const json& svc, int* code = nullptr,
                     Handler* h = nullptr) {
    int c = 0;
    json out = call("POST", "/api/v1/namespaces/" + ns + "/services", svc, &c, h);
    if (code) *code = c;
    lastBody_ = out;
    return c == 201 ? out["spec"]["clusterIP"].get<std::string>() : "";
  }
  void createNamespace(const std::string& ns) {
    int c = 0;
    call("POST", "/api/v1/namespaces", {{"metadata", {{"name", ns}}}}, &c);
    ASSERT_EQ(c, 201);
  }
  // Every stored Service's ClusterIP (but headless "None") is unique.
  void expectUniqueIps() {
    std::set<std::string> seen;
    for (const auto& s : store_.all("services")) {
      std::string ip = s["spec"]["clusterIP"];
      if (ip != "None") EXPECT_TRUE(seen.insert(ip).second) << "duplicate " << ip;
    }
  }

  ObjectStore store_{1000};
  Registry registry_;
  std::unique_ptr<Handler> handler_ =
      std::make_unique<Handler>(store_, registry_, HandlerOptions{"", "10.96.0.0/16"});
  json lastBody_;
};

TEST_F(ApiserverAllocator, NoAddressTwiceAcrossCreatesAndDeletes) {
  createNamespace("a");
  std::set<std::string> ips;
  for (int i = 0; i < 300; ++i) {
    std::string ip = create(i % 2 ? "a" : "default", service("s" + std::to_string(i)));
    ASSERT_FALSE(ip.empty()) << lastBody_.dump();
    EXPECT_TRUE(ips.insert(ip).second) << ip;
  }
  EXPECT_EQ(*ips.begin(), "10.96.0.10");
  // Delete one Service, and a namespace with half of them.
  int code = 0;
  call("DELETE", "/api/v1/namespaces/default/services/s0", json(), &code);
  ASSERT_EQ(code, 200);
  call("DELETE", "/api/v1/namespaces/a", json(), &code);
  ASSERT_EQ(code, 200);
  EXPECT_EQ(store_.all("services").size(), 149u);
  // Freed addresses are reused lowest first, never one still held.
  std::string again = create("default", service("again"));
  EXPECT_EQ(again, "10.96.0.10");
  for (int i = 0; i < 200; ++i) create("default", service("n" + std::to_string(i)));
  expectUniqueIps();
  EXPECT_EQ(store_.all("services").size(), 350u);
}

TEST_F(ApiserverAllocator, RequestedAddressTakenOrOutOfRangeIs422) {
  int code = 0;
  EXPECT_EQ(create("default", service("want", "10.96.0.10"), &code), "10.96.0.10");
  // The allocator skips the requested address.
  EXPECT_EQ(create("default", service("auto")), "10.96.0.11");
  create("default", service("dup", "10.96.0.11"), &code);
  EXPECT_EQ(code, 422);
  EXPECT_EQ(lastBody_["reason"], "Invalid");
  EXPECT_NE(lastBody_["message"].get<std::string>().find("provided IP is already allocated"),
            std::string::npos)
      << lastBody_.dump();
  create("default", service("far", "192.168.1.1"), &code);
  EXPECT_EQ(code, 422);
  EXPECT_NE(lastBody_["message"].get<std::string>().find("not in the valid range"),
            std::string::npos);
  create("default", service("junk", "10.96.x.1"), &code);
  EXPECT_EQ(code, 422);
  // Headless Services take no address.
  EXPECT_EQ(create("default", service("headless", "None"), &code), "None");
  EXPECT_EQ(create("default", service("headless2", "None"), &code), "None");
  // Once deleted, the requested address can be asked for again.
  call("DELETE", "/api/v1/namespaces/default/services/auto", json(), &code);
  ASSERT_EQ(code, 200);
  EXPECT_EQ(create("default", service("dup", "10.96.0.11"), &code), "10.96.0.11");
  expectUniqueIps();
}

TEST_F(ApiserverAllocator, FailedCreateLeaksNoAddress) {
  int code = 0;
  ASSERT_EQ(create("default", service("web")), "10.96.0.10");
  create("default", service("web"), &code);  // AlreadyExists after allocation
  EXPECT_EQ(code, 409);
  create("nowhere", service("web2"), &code);
  EXPECT_EQ(code, 404);
  create("default", service("Bad_Name"), &code);
  EXPECT_EQ(code, 422);
  EXPECT_EQ(create("default", service("next")), "10.96.0.11");
  EXPECT_EQ(handler_->admission().allocations().heldIps(), 2u);
}

TEST_F(ApiserverAllocator, NodePortsUniqueKeptOnUpdateAndChecked) {
  int code = 0;
  json two = json::array({{{"port", 80}}, {{"port", 443}}});
  ASSERT_FALSE(create("default", service("np1", "", "NodePort", two)).empty());
  json np1 = lastBody_;
  EXPECT_EQ(np1["spec"]["ports"][0]["nodePort"], 30000);
  EXPECT_EQ(np1["spec"]["ports"][1]["nodePort"], 30001);
  ASSERT_FALSE(create("default", service("np2", "", "LoadBalancer")).empty());
  EXPECT_EQ(lastBody_["spec"]["ports"][0]["nodePort"], 30002);
  // An update keeps the ports (and does not wait on the store it runs in).
  json upd = np1;
  upd["metadata"]["labels"] = {{"x", "y"}};
  json put = call("PUT", "/api/v1/namespaces/default/services/np1", upd, &code);
  ASSERT_EQ(code, 200) << put.dump();
  EXPECT_EQ(put["spec"]["ports"][1]["nodePort"], 30001);
  // Requested ports: taken, out of range and duplicate are 422; a free one is honoured.
  create("default",
         service("np3", "", "NodePort", json::array({{{"port", 1}, {"nodePort", 30001}}})), &code);
  EXPECT_EQ(code, 422);
  EXPECT_NE(lastBody_["message"].get<std::string>().find("provided port is already allocated"),
            std::string::npos);
  create("default", service("np3", "", "NodePort", json::array({{{"port", 1}, {"nodePort", 80}}})),
         &code);
  EXPECT_EQ(code, 422);
  create("default",
         service(
             "np3", "", "NodePort",
             json::array({{{"port", 1}, {"nodePort", 31000}}, {{"port", 2}, {"nodePort", 31000}}})),
         &code);
  EXPECT_EQ(code, 422);
  create("default",
         service("np3", "", "NodePort",
                 json::array({{{"port", 1}, {"nodePort", 30003}}, {{"port", 2}}})),
         &code);
  ASSERT_EQ(code, 201) << lastBody_.dump();
  EXPECT_EQ(lastBody_["spec"]["ports"][1]["nodePort"], 30004);
  // Deleting frees the ports.
  call("DELETE", "/api/v1/namespaces/default/services/np1", json(), &code);
  ASSERT_EQ(code, 200);
  create("default", service("np4", "", "NodePort"), &code);
  EXPECT_EQ(lastBody_["spec"]["ports"][0]["nodePort"], 30000);
}

TEST_F(ApiserverAllocator, ReloadFromSnapshotKeepsAllocations) {
  for (int i = 0; i < 20; ++i) create("default", service("s" + std::to_string(i)));
  int code = 0;
  call("DELETE", "/api/v1/namespaces/default/services/s3", json(), &code);
  ASSERT_EQ(code, 200);
  json snap = store_.snapshot();

  // A new server process: restore first, then the handler (as main does).
  ObjectStore reloaded(1000);
  ASSERT_TRUE(reloaded.restore(snap));
  Registry registry;
  Handler h(reloaded, registry, HandlerOptions{"", "10.96.0.0/16"});
  h.bootstrap();
  EXPECT_EQ(h.admission().allocations().heldIps(), 19u);
  EXPECT_EQ(create("default", service("x"), &code, &h), "10.96.0.13");  // s3's, freed
  EXPECT_EQ(create("default", service("y"), &code, &h), "10.96.0.30");
  create("default", service("z", "10.96.0.12"), &code, &h);
  EXPECT_EQ(code, 422);

  // Restoring into a store a handler already observes resets its allocations.
  ASSERT_TRUE(store_.restore(snap));
  EXPECT_EQ(handler_->admission().allocations().heldIps(), 19u);
  EXPECT_EQ(create("default", service("x")), "10.96.0.13");
  expectUniqueIps();
}

}  // namespace
}  // namespace petrel::apiserver
