// Server-side Tables for CRD types print the CRD's additionalPrinterColumns (the JSONPath
// subset: .a.b paths and [?(@.key=='value')] filters).
#include <gtest/gtest.h>

#include "tools/sandbox/apiserver/handler.h"
#include "tools/sandbox/apiserver/table.h"

namespace petrel::apiserver {
namespace {

using nlohmann::json;

TEST(ApiserverJsonPath, PathsAndFilters) {
  json o = {
      {"spec",
       {{"ipam", {{"podCIDRs", {"10.0.1.0/24"}}}},
        {"addresses",
         {{{"type", "Hostname"}, {"ip", "n1"}}, {{"type", "InternalIP"}, {"ip", "1.2.3.4"}}}}}}};
  EXPECT_EQ(evalJsonPath(o, ".spec.ipam.podCIDRs"), json({"10.0.1.0/24"}));
  EXPECT_EQ(evalJsonPath(o, ".spec.addresses[?(@.type=='InternalIP')].ip"), "1.2.3.4");
  EXPECT_EQ(evalJsonPath(o, ".spec.addresses[?(@.type==\"Hostname\")].ip"), "n1");
  EXPECT_TRUE(evalJsonPath(o, ".spec.addresses[?(@.type=='ExternalIP')].ip").is_null());
  EXPECT_TRUE(evalJsonPath(o, ".spec.missing.x").is_null());
  EXPECT_TRUE(evalJsonPath(o, ".spec.addresses[0].ip").is_null());  // not in the subset
}

TEST(ApiserverPrinterColumns, CrdTableShowsThePrinterColumns) {
  ObjectStore store(100);
  Registry registry;
  Handler handler(store, registry, HandlerOptions{"", "10.96.0.0/16"});
  handler.bootstrap();
  json crd = {
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "CustomResourceDefinition"},
      {"metadata", {{"name", "petrelnodes.petrel.io"}}},
      {"spec",
       {{"group", "petrel.io"},
        {"scope", "Cluster"},
        {"names", {{"plural", "petrelnodes"}, {"singular", "petrelnode"}, {"kind", "PetrelNode"}}},
        {"versions",
         {{{"name", "v1alpha1"},
           {"served", true},
           {"storage", true},
           {"additionalPrinterColumns",
            {{{"name", "Pod CIDRs"}, {"type", "string"}, {"jsonPath", ".spec.ipam.podCIDRs"}},
             {{"name", "Internal IP"},
              {"type", "string"},
              {"jsonPath", ".spec.addresses[?(@.type=='InternalIP')].ip"}},
             {{"name", "Age"},
              {"type", "date"},
              {"jsonPath", ".metadata.creationTimestamp"}}}}}}}}}};
  auto send = [&](const std::string& method, const std::string& path, const json& body,
                  const std::string& accept = "") {
    Request r;
    r.method = method;
    r.path = path;
    r.headers["content-type"] = "application/json";
    if (!accept.empty()) r.headers["accept"] = accept;
    if (!body.is_null()) r.body = body.dump();
    return handler.handle(r);
  };
  ASSERT_EQ(send("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status,
            201);
  json node = {{"metadata", {{"name", "node-a"}}},
               {"spec",
                {{"ipam", {{"podCIDRs", {"10.244.1.0/24"}}}},
                 {"addresses", {{{"type", "InternalIP"}, {"ip", "172.31.0.2"}}}}}}};
  ASSERT_EQ(send("POST", "/apis/petrel.io/v1alpha1/petrelnodes", node).status, 201);
  Response r = send("GET", "/apis/petrel.io/v1alpha1/petrelnodes", json(),
                    "application/json;as=Table;v=v1;g=meta.k8s.io");
  ASSERT_EQ(r.status, 200);
  json t = json::parse(r.body);
  ASSERT_EQ(t["kind"], "Table");
  std::vector<std::string> names;
  for (const auto& c : t["columnDefinitions"]) names.push_back(c["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"Name", "Pod CIDRs", "Internal IP", "Age"}));
  ASSERT_EQ(t["rows"].size(), 1u);
  const json& cells = t["rows"][0]["cells"];
  EXPECT_EQ(cells[0], "node-a");
  EXPECT_EQ(cells[1], "[\"10.244.1.0/24\"]");
  EXPECT_EQ(cells[2], "172.31.0.2");
  EXPECT_TRUE(cells[3].is_string());
}

}  // namespace
}  // namespace petrel::apiserver
