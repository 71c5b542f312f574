// Unit tests for LabelSelector: each operator's matching as Kubernetes defines it, the empty
// selector, kubectl's text form, and every invalid selector rejected naming its field.
#include "k8s/label_selector.h"

#include <functional>

#include <gtest/gtest.h>

namespace petrel::k8s {
namespace {

using nlohmann::json;

LabelSelector decoded(const std::string& text) {
  auto selector =
      decodeLabelSelector(json::parse(text), "NetworkPolicy shop/db", "spec.podSelector");
  EXPECT_TRUE(selector) << selector.status().message();
  return selector ? *selector : LabelSelector{};
}

TEST(LabelSelectorTest, MatchLabelsNeedEveryPairExactly) {
  auto s = decoded(R"({"matchLabels": {"app": "web", "tier": "front"}})");
  EXPECT_TRUE(s.matches({{"app", "web"}, {"tier", "front"}, {"extra", "x"}}));
  EXPECT_FALSE(s.matches({{"app", "web"}}));
  EXPECT_FALSE(s.matches({{"app", "web"}, {"tier", "back"}}));
  EXPECT_FALSE(s.empty());
}

TEST(LabelSelectorTest, InMatchesAListedValueOnly) {
  auto s = decoded(R"({"matchExpressions": [{"key": "tier", "operator": "In",
                                            "values": ["b", "a"]}]})");
  EXPECT_TRUE(s.matches({{"tier", "a"}}));
  EXPECT_TRUE(s.matches({{"tier", "b"}}));
  EXPECT_FALSE(s.matches({{"tier", "c"}}));
  EXPECT_FALSE(s.matches({}));  // an absent label is in no set
}

TEST(LabelSelectorTest, NotInMatchesOtherValuesAndAnAbsentLabel) {
  auto s = decoded(R"({"matchExpressions": [{"key": "tier", "operator": "NotIn",
                                            "values": ["a"]}]})");
  EXPECT_FALSE(s.matches({{"tier", "a"}}));
  EXPECT_TRUE(s.matches({{"tier", "b"}}));
  EXPECT_TRUE(s.matches({{"app", "web"}}));
}

TEST(LabelSelectorTest, ExistsAndDoesNotExistLookAtTheKeyOnly) {
  auto exists = decoded(R"({"matchExpressions": [{"key": "legacy", "operator": "Exists"}]})");
  EXPECT_TRUE(exists.matches({{"legacy", ""}}));
  EXPECT_TRUE(exists.matches({{"legacy", "yes"}}));
  EXPECT_FALSE(exists.matches({{"app", "legacy"}}));
  auto absent = decoded(R"({"matchExpressions": [{"key": "legacy", "operator": "DoesNotExist"}]})");
  EXPECT_FALSE(absent.matches({{"legacy", ""}}));
  EXPECT_TRUE(absent.matches({{"app", "legacy"}}));
}

TEST(LabelSelectorTest, LabelsAndRequirementsAreAnded) {
  auto s = decoded(R"({"matchLabels": {"app": "web"},
                       "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]},
                                            {"key": "legacy", "operator": "DoesNotExist"}]})");
  EXPECT_TRUE(s.matches({{"app", "web"}, {"tier", "a"}}));
  EXPECT_FALSE(s.matches({{"app", "web"}, {"tier", "a"}, {"legacy", "1"}}));
  EXPECT_FALSE(s.matches({{"app", "db"}, {"tier", "a"}}));
  EXPECT_FALSE(s.matches({{"app", "web"}}));
}

TEST(LabelSelectorTest, EmptyAndNullSelectorsSelectEverything) {
  for (const char* text : {"{}", "null", R"({"matchLabels": {}, "matchExpressions": []})"}) {
    auto s = decoded(text);
    EXPECT_TRUE(s.empty()) << text;
    EXPECT_TRUE(s.matches({})) << text;
    EXPECT_TRUE(s.matches({{"app", "web"}})) << text;
    EXPECT_EQ(s.str(), "") << text;
  }
}

TEST(LabelSelectorTest, PrintsKubectlSyntaxStably) {
  auto s = decoded(R"({"matchLabels": {"tier": "front", "app": "web"},
                       "matchExpressions": [
                         {"key": "zone", "operator": "In", "values": ["b", "a", "b"]},
                         {"key": "env", "operator": "NotIn", "values": ["dev"]},
                         {"key": "owner", "operator": "Exists"},
                         {"key": "legacy", "operator": "DoesNotExist"}]})");
  EXPECT_EQ(s.str(), "app=web,tier=front,zone in (a,b),env notin (dev),owner,!legacy");
  EXPECT_EQ(s.match_expressions[0].values, (std::vector<std::string>{"a", "b"}));
}

TEST(LabelSelectorTest, QualifiedNamesAndLabelValues) {
  EXPECT_TRUE(isQualifiedName("app"));
  EXPECT_TRUE(isQualifiedName("app.kubernetes.io/name"));
  EXPECT_TRUE(isQualifiedName("kubernetes.io/metadata.name"));
  EXPECT_FALSE(isQualifiedName(""));
  EXPECT_FALSE(isQualifiedName("/app"));
  EXPECT_FALSE(isQualifiedName("Example.com/app"));
  EXPECT_FALSE(isQualifiedName("a/b/c"));
  EXPECT_FALSE(isQualifiedName("-app"));
  EXPECT_FALSE(isQualifiedName(std::string(64, 'a')));
  EXPECT_TRUE(isQualifiedName(std::string(63, 'a')));
  EXPECT_TRUE(isLabelValue(""));
  EXPECT_TRUE(isLabelValue("v1.2_3-x"));
  EXPECT_FALSE(isLabelValue("has space"));
  EXPECT_FALSE(isLabelValue("trailing-"));
}

struct InvalidSelector {
  std::string name;
  std::string selector;
  std::string field;  // the path the message must name
};

class LabelSelectorInvalidTest : public testing::TestWithParam<InvalidSelector> {};

TEST_P(LabelSelectorInvalidTest, IsRejectedNamingTheField) {
  auto s = decodeLabelSelector(json::parse(GetParam().selector), "NetworkPolicy shop/db",
                               "spec.podSelector");
  ASSERT_FALSE(s) << GetParam().selector;
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
  const std::string& message = s.status().message();
  EXPECT_NE(message.find("NetworkPolicy shop/db: " + GetParam().field + ":"), std::string::npos)
      << message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LabelSelectorInvalidTest,
    testing::ValuesIn(std::vector<InvalidSelector>{
        {"InWithoutValues", R"({"matchExpressions": [{"key": "a", "operator": "In"}]})",
         "spec.podSelector.matchExpressions[0].values"},
        {"NotInWithEmptyValues",
         R"({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]})",
         "spec.podSelector.matchExpressions[0].values"},
        {"ExistsWithValues",
         R"({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})",
         "spec.podSelector.matchExpressions[0].values"},
        {"DoesNotExistWithValues",
         R"({"matchExpressions": [{"key": "a", "operator": "Exists"},
                                  {"key": "b", "operator": "DoesNotExist", "values": ["x"]}]})",
         "spec.podSelector.matchExpressions[1].values"},
        {"UnknownOperator",
         R"({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})",
         "spec.podSelector.matchExpressions[0].operator"},
        {"MissingOperator", R"({"matchExpressions": [{"key": "a"}]})",
         "spec.podSelector.matchExpressions[0].operator"},
        {"BadRequirementKey", R"({"matchExpressions": [{"key": "a b", "operator": "Exists"}]})",
         "spec.podSelector.matchExpressions[0].key"},
        {"ValuesNotStrings",
         R"({"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]})",
         "spec.podSelector.matchExpressions[0].values"},
        {"RequirementNotAnObject", R"({"matchExpressions": ["a"]})",
         "spec.podSelector.matchExpressions[0]"},
        {"ExpressionsNotAList", R"({"matchExpressions": {"key": "a"}})",
         "spec.podSelector.matchExpressions"},
        {"BadMatchLabelsKey", R"({"matchLabels": {"a/b/c": "x"}})", "spec.podSelector.matchLabels"},
        {"BadMatchLabelsValue", R"({"matchLabels": {"app": "not valid!"}})",
         "spec.podSelector.matchLabels.app"},
        {"MatchLabelsNotStrings", R"({"matchLabels": {"app": 5}})",
         "spec.podSelector.matchLabels.app"},
        {"NotAnObject", R"(["app=web"])", "spec.podSelector"},
    }),
    [](const testing::TestParamInfo<InvalidSelector>& param_info) {
      return param_info.param.name;
    });

}  // namespace
}  // namespace petrel::k8s
