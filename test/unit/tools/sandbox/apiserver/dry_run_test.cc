// dryRun=All on create, update, patch and delete: validated and answered as if done, with
// nothing stored, no resourceVersion spent and no ClusterIP kept.
#include <gtest/gtest.h>

#include "tools/sandbox/apiserver/handler.h"

namespace petrel::apiserver {
namespace {

using nlohmann::json;

class ApiserverDryRun : public ::testing::Test {
 protected:
  ApiserverDryRun() { handler_.bootstrap(); }

  json call(const std::string& method, const std::string& path, const json& body, int* code,
            bool dry = true, const std::string& contentType = "application/json") {
    Request r;
    r.method = method;
    r.path = path;
    r.headers["content-type"] = contentType;
    if (dry) r.query["dryRun"] = "All";
    if (!body.is_null()) r.body = body.dump();
    Response resp = handler_.handle(r);
    *code = resp.status;
    return json::parse(resp.body, nullptr, false);
  }
  static json service(const std::string& name) {
    return {{"metadata", {{"name", name}}}, {"spec", {{"ports", {{{"port", 80}}}}}}};
  }

  ObjectStore store_{100};
  Registry registry_;
  Handler handler_{store_, registry_, HandlerOptions{"", "10.96.0.0/16"}};
};

TEST_F(ApiserverDryRun, CreateAnswersButStoresNothing) {
  const std::string svcs = "/api/v1/namespaces/default/services";
  uint64_t rv = store_.currentRv();
  int code = 0;
  json out = call("POST", svcs, service("web"), &code);
  ASSERT_EQ(code, 201) << out.dump();
  EXPECT_EQ(out["metadata"]["name"], "web");
  EXPECT_EQ(out["spec"]["clusterIP"], "10.96.0.10");
  EXPECT_FALSE(store_.get("services", "default", "web"));
  EXPECT_EQ(store_.currentRv(), rv);
  EXPECT_EQ(handler_.admission().allocations().heldIps(), 0u);
  // Validation still answers.
  call("POST", svcs, service("Not_Valid"), &code);
  EXPECT_EQ(code, 422);
  call("POST", svcs, service("web"), &code, false);
  ASSERT_EQ(code, 201);
  call("POST", svcs, service("web"), &code);
  EXPECT_EQ(code, 409);
  Request r;
  r.method = "POST";
  r.path = svcs;
  r.query["dryRun"] = "Some";
  r.body = service("x").dump();
  EXPECT_EQ(handler_.handle(r).status, 400);
}

TEST_F(ApiserverDryRun, UpdatePatchAndDeleteLeaveTheObject) {
  const std::string web = "/api/v1/namespaces/default/services/web";
  int code = 0;
  json stored = call("POST", "/api/v1/namespaces/default/services", service("web"), &code, false);
  ASSERT_EQ(code, 201);
  uint64_t rv = store_.currentRv();

  json desired = stored;
  desired["metadata"]["labels"] = {{"a", "b"}};
  json put = call("PUT", web, desired, &code);
  ASSERT_EQ(code, 200) << put.dump();
  EXPECT_EQ(put["metadata"]["labels"]["a"], "b");
  json patched = call("PATCH", web, {{"metadata", {{"labels", {{"c", "d"}}}}}}, &code, true,
                      "application/merge-patch+json");
  ASSERT_EQ(code, 200) << patched.dump();
  EXPECT_EQ(patched["metadata"]["labels"]["c"], "d");
  desired["spec"]["clusterIP"] = "10.96.0.99";
  call("PUT", web, desired, &code);
  EXPECT_EQ(code, 422);  // immutable, as without dryRun

  json del = call("DELETE", web, json(), &code);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(del["metadata"]["name"], "web");
  call("DELETE", "/api/v1/namespaces/default/services/nothing", json(), &code);
  EXPECT_EQ(code, 404);
  // kubectl delete --dry-run=server: in DeleteOptions, not the query.
  call("DELETE", web, {{"kind", "DeleteOptions"}, {"dryRun", {"All"}}}, &code, false);
  EXPECT_EQ(code, 200);

  auto now = store_.get("services", "default", "web");
  ASSERT_TRUE(now);
  EXPECT_FALSE((*now)["metadata"].contains("labels"));
  EXPECT_EQ(store_.currentRv(), rv);
  EXPECT_EQ(handler_.admission().allocations().heldIps(), 1u);
}

}  // namespace
}  // namespace petrel::apiserver
