// Label and field selector parsing and matching.
#include <gtest/gtest.h>

#include "tools/sandbox/apiserver/selector.h"

namespace petrel::apiserver {
namespace {

using nlohmann::json;

bool sel(const std::string& s, const json& labels) {
  auto p = LabelSelector::parse(s);
  EXPECT_TRUE(p.isOk()) << s << ": " << p.status().message();
  return p.isOk() && p->matches(labels);
}

TEST(ApiserverSelector, EqualityOperators) {
  json l = {{"app", "web"}, {"tier", "fe"}};
  EXPECT_TRUE(sel("app=web", l));
  EXPECT_TRUE(sel("app==web", l));
  EXPECT_FALSE(sel("app=db", l));
  EXPECT_TRUE(sel("app!=db", l));
  EXPECT_FALSE(sel("app!=web", l));
  EXPECT_TRUE(sel("missing!=x", l));  // absent labels satisfy !=
  EXPECT_TRUE(sel("app=web,tier=fe", l));
  EXPECT_FALSE(sel("app=web,tier=be", l));
  EXPECT_TRUE(sel("", l));
  EXPECT_TRUE(sel(" app = web ", l));
}

TEST(ApiserverSelector, SetOperatorsAndExistence) {
  json l = {{"app", "web"}, {"example.com/role", "x"}};
  EXPECT_TRUE(sel("app in (web,db)", l));
  EXPECT_TRUE(sel("app in (db, web)", l));
  EXPECT_FALSE(sel("app in (db)", l));
  EXPECT_TRUE(sel("app notin (db)", l));
  EXPECT_FALSE(sel("app notin (db,web)", l));
  EXPECT_TRUE(sel("nope notin (x)", l));
  EXPECT_TRUE(sel("app", l));
  EXPECT_TRUE(sel("example.com/role", l));
  EXPECT_FALSE(sel("!app", l));
  EXPECT_TRUE(sel("!nope", l));
  EXPECT_TRUE(sel("app in (web),!nope,example.com/role=x", l));
  EXPECT_FALSE(sel("app", json()));  // no labels at all
  EXPECT_TRUE(sel("!app", json()));
}

TEST(ApiserverSelector, BadSelectorsAreErrors) {
  for (const char* bad :
       {"app in (web", "app in web)", "app=we b", "=web", "app in ()", "app between (a,b)",
        "a/b/c=x", "!", "app=web,,tier=x", "app=(x)", "bad key=1", "app in ((x))"}) {
    auto p = LabelSelector::parse(bad);
    EXPECT_FALSE(p.isOk()) << bad;
    if (!p.isOk()) EXPECT_EQ(p.status().code(), Code::kInvalidArgument);
  }
}

TEST(ApiserverSelector, FieldSelectors) {
  json podObj = {{"metadata", {{"name", "web-0"}, {"namespace", "shop"}}},
                 {"spec", {{"nodeName", "node-a"}}},
                 {"status", {{"phase", "Running"}}}};
  std::vector<std::string> allowed = {"metadata.name", "metadata.namespace", "spec.nodeName",
                                      "status.phase"};
  auto m = [&](const std::string& s) {
    auto p = FieldSelector::parse(s, allowed);
    EXPECT_TRUE(p.isOk()) << s;
    return p.isOk() && p->matches(podObj);
  };
  EXPECT_TRUE(m("metadata.name=web-0"));
  EXPECT_TRUE(m("spec.nodeName==node-a,status.phase=Running"));
  EXPECT_FALSE(m("spec.nodeName=node-b"));
  EXPECT_TRUE(m("spec.nodeName!=node-b"));
  EXPECT_FALSE(m("status.phase!=Running"));
  EXPECT_TRUE(m("metadata.namespace=shop"));
  EXPECT_TRUE(m(""));
  auto unsupported = FieldSelector::parse("spec.hostNetwork=true", allowed);
  ASSERT_FALSE(unsupported.isOk());
  EXPECT_EQ(unsupported.status().message(), "field label not supported: spec.hostNetwork");
  EXPECT_FALSE(FieldSelector::parse("metadata.name", allowed).isOk());
}

}  // namespace
}  // namespace petrel::apiserver
