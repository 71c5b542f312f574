// Security labels: what goes into an identity, what stays out, and that no pod label can pass
// for its namespace's.
#include "agent/core/security_labels.h"

#include <gtest/gtest.h>

namespace petrel::core {
namespace {

TEST(SecurityLabels, PodNamespaceAndServiceAccountEachUnderTheirOwnPrefix) {
  auto labels = securityLabels({{"app", "web"}}, "shop",
                               {{"kubernetes.io/metadata.name", "shop"}, {"team", "a"}}, "web-sa");
  EXPECT_EQ(labels, (SecurityLabels{{"k8s:app", "web"},
                                    {"k8s-namespace:kubernetes.io/metadata.name", "shop"},
                                    {"k8s-namespace:team", "a"},
                                    {"petrel:namespace", "shop"},
                                    {"petrel:serviceaccount", "web-sa"}}));
  EXPECT_EQ(podLabelsOf(labels), (std::map<std::string, std::string>{{"app", "web"}}));
  EXPECT_EQ(
      namespaceLabelsOf(labels),
      (std::map<std::string, std::string>{{"kubernetes.io/metadata.name", "shop"}, {"team", "a"}}));
  EXPECT_EQ(namespaceOf(labels), "shop");
}

TEST(SecurityLabels, ReplicasOfOneWorkloadShareThem) {
  auto a = securityLabels({{"app", "web"}, {"pod-template-hash", "5d4f"}}, "default", {}, "");
  auto b = securityLabels({{"app", "web"}, {"pod-template-hash", "77aa"}}, "default", {}, "");
  EXPECT_EQ(a, b);
  auto s0 = securityLabels({{"app", "db"},
                            {"statefulset.kubernetes.io/pod-name", "db-0"},
                            {"apps.kubernetes.io/pod-index", "0"},
                            {"controller-revision-hash", "db-6c"}},
                           "default", {}, "");
  EXPECT_EQ(podLabelsOf(s0), (std::map<std::string, std::string>{{"app", "db"}}));
}

TEST(SecurityLabels, NoServiceAccountIsTheDefaultOne) {
  EXPECT_EQ(securityLabels({}, "x", {}, "").at("petrel:serviceaccount"), "default");
}

TEST(SecurityLabels, APodLabelCannotPassForANamespaceLabelOrTheNamespace) {
  auto labels = securityLabels(
      {{"k8s-namespace:team", "prod"}, {"petrel:namespace", "kube-system"}}, "dev", {}, "");
  EXPECT_EQ(namespaceOf(labels), "dev");
  EXPECT_TRUE(namespaceLabelsOf(labels).empty());
  EXPECT_EQ(podLabelsOf(labels),
            (std::map<std::string, std::string>{{"k8s-namespace:team", "prod"},
                                                {"petrel:namespace", "kube-system"}}));
}

TEST(SecurityLabels, CanonicalKeyIsEqualExactlyForEqualSets) {
  auto a = securityLabels({{"app", "web"}, {"tier", "1"}}, "default", {}, "");
  auto b = securityLabels({{"tier", "1"}, {"app", "web"}}, "default", {}, "");
  auto c = securityLabels({{"app", "web"}}, "default", {}, "");
  EXPECT_EQ(canonicalKey(a), canonicalKey(b));
  EXPECT_NE(canonicalKey(a), canonicalKey(c));
  EXPECT_EQ(canonicalKey(c), "k8s:app=web,petrel:namespace=default,petrel:serviceaccount=default");
}

}  // namespace
}  // namespace petrel::core
