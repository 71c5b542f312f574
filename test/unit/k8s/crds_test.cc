// Unit tests for Petrel's embedded CRDs and the YAML-to-JSON conversion that loads them.
#include "k8s/crds.h"

#include <gtest/gtest.h>

#include <set>

namespace petrel::k8s {
namespace {

using nlohmann::json;

TEST(CrdsTest, YamlScalarsBecomeJsonTypesUnlessQuoted) {
  auto j = yamlToJson("a: 1\nb: true\nc: '1'\nd: \"true\"\ne: [x, -2, ~]\nf: {g: 1.5}\nh: \"-\"\n");
  ASSERT_TRUE(j) << j.status().message();
  EXPECT_EQ((*j)["a"], 1);
  EXPECT_EQ((*j)["b"], true);
  EXPECT_EQ((*j)["c"], "1");
  EXPECT_EQ((*j)["d"], "true");
  EXPECT_EQ((*j)["e"], json::parse(R"(["x", -2, null])"));
  EXPECT_EQ((*j)["f"]["g"], "1.5");  // CRDs carry no floats; kept as text
  EXPECT_EQ((*j)["h"], "-");         // quoted
  EXPECT_FALSE(yamlToJson("a: [1, 2\nb: {"));
}

TEST(CrdsTest, EmbeddedCrdsAreCompleteDefinitions) {
  auto crds = petrelCrds();
  ASSERT_TRUE(crds) << crds.status().message();
  ASSERT_FALSE(crds->empty());
  bool petrel_node = false;
  std::set<std::string> names;
  for (const auto& crd : *crds) {
    EXPECT_EQ(crd["apiVersion"], "apiextensions.k8s.io/v1");
    EXPECT_EQ(crd["kind"], "CustomResourceDefinition");
    const std::string group = crd["spec"]["group"];
    EXPECT_TRUE(group == "petrel.io" || group == "policy.networking.k8s.io") << group;
    const std::string name = crd["metadata"]["name"];
    names.insert(name);
    EXPECT_EQ(name, crd["spec"]["names"]["plural"].get<std::string>() + "." + group);
    ASSERT_TRUE(crd["spec"]["versions"].is_array());
    EXPECT_EQ(crd["spec"]["versions"][0]["served"], true);
    EXPECT_TRUE(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].is_object());
    if (name == "petrelnodes.petrel.io") {
      petrel_node = true;
      EXPECT_EQ(crd["spec"]["scope"], "Cluster");
      EXPECT_EQ(crd["spec"]["names"]["kind"], "PetrelNode");
    }
  }
  EXPECT_TRUE(petrel_node);
  // Identities, and the upstream API for cluster-wide and deny rules (network-policy-api).
  EXPECT_TRUE(names.count("petrelidentities.petrel.io"));
  EXPECT_TRUE(names.count("clusternetworkpolicies.policy.networking.k8s.io"));
}

}  // namespace
}  // namespace petrel::k8s
