// The uninstall decision without an API: from the agent's own Pod as GET returns it and the
// answer about its DaemonSet, uninstall only when that DaemonSet is gone (404) or being deleted;
// keep while it exists, when it is a new one of the same name, or when the pod has no DaemonSet
// owner; unknown (which keeps too) when either answer is missing or not usable.
#include "agent/daemon/uninstall_check.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace petrel::agent {
namespace {

using nlohmann::json;

constexpr const char* kUid = "6f1c0e4e-1111-4d2a-9c1b-000000000001";

std::string podOwnedBy(const json& owners) {
  return json{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", "petrel-x7k2p"}, {"namespace", "kube-system"}, {"ownerReferences", owners}}}}
      .dump();
}

json daemonSetOwner(const std::string& name = "petrel", const std::string& uid = kUid) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "DaemonSet"},
          {"name", name},
          {"uid", uid},
          {"controller", true}};
}

std::string daemonSet(const std::string& uid = kUid, bool deleting = false) {
  json d = {{"apiVersion", "apps/v1"},
            {"kind", "DaemonSet"},
            {"metadata", {{"name", "petrel"}, {"namespace", "kube-system"}, {"uid", uid}}}};
  if (deleting) {
    d["metadata"]["deletionTimestamp"] = "2026-12-08T00:00:00Z";
    d["metadata"]["finalizers"] = {"foregroundDeletion"};
  }
  return d.dump();
}

// The decision for `pod`, the DaemonSet lookup answering `ds`; `asked` gets the name looked up.
UninstallVerdict decide(const ApiAnswer& pod, const ApiAnswer& ds, std::string* asked = nullptr) {
  return decideUninstall("kube-system", "petrel-x7k2p", pod, [&](const std::string& name) {
    if (asked) *asked = name;
    return ds;
  });
}

const ApiAnswer kOwnPod{200, podOwnedBy(json::array({daemonSetOwner()}))};

TEST(UninstallCheck, DaemonSetGoneIsAnUninstall) {
  std::string asked;
  auto v = decide(kOwnPod, {404, R"({"kind":"Status","reason":"NotFound","code":404})"}, &asked);
  EXPECT_EQ(v.decision, UninstallDecision::kUninstall);
  EXPECT_EQ(asked, "petrel");
  EXPECT_EQ(v.reason, "DaemonSet kube-system/petrel is gone: uninstall");
}

TEST(UninstallCheck, DaemonSetBeingDeletedIsAnUninstall) {
  auto v = decide(kOwnPod, {200, daemonSet(kUid, true)});
  EXPECT_EQ(v.decision, UninstallDecision::kUninstall);
  EXPECT_EQ(v.reason, "DaemonSet kube-system/petrel is being deleted: uninstall");
}

TEST(UninstallCheck, DaemonSetPresentKeepsTheDatapath) {
  auto v = decide(kOwnPod, {200, daemonSet()});
  EXPECT_EQ(v.decision, UninstallDecision::kKeep);
  EXPECT_EQ(v.reason,
            "DaemonSet kube-system/petrel present: keeping the datapath for the next agent");
}

TEST(UninstallCheck, ANewDaemonSetOfTheSameNameKeepsTheDatapathForItsAgent) {
  // Uninstalled and installed again before this pod stopped: even if the new DaemonSet is being
  // deleted, it is not the one this pod belongs to, and its agent may already run on the node.
  for (bool deleting : {false, true}) {
    auto v = decide(kOwnPod, {200, daemonSet("6f1c0e4e-2222-4d2a-9c1b-000000000002", deleting)});
    EXPECT_EQ(v.decision, UninstallDecision::kKeep) << deleting;
    EXPECT_NE(v.reason.find("is a new one"), std::string::npos) << v.reason;
  }
}

TEST(UninstallCheck, TheDaemonSetIsFoundAmongOtherOwners) {
  std::string asked;
  json owners = json::array(
      {{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "n1"}, {"uid", "a"}},
       {{"apiVersion", "extensions/v1beta1"}, {"kind", "DaemonSet"}, {"name", "old"}, {"uid", "b"}},
       daemonSetOwner("petrel-agent")});
  auto v = decide({200, podOwnedBy(owners)}, {404, ""}, &asked);
  EXPECT_EQ(asked, "petrel-agent");
  EXPECT_EQ(v.decision, UninstallDecision::kUninstall);
}

TEST(UninstallCheck, APodWithoutADaemonSetKeepsTheDatapathWithoutAsking) {
  bool asked = false;
  for (const json& owners : {json::array(), json::array({{{"apiVersion", "apps/v1"},
                                                          {"kind", "ReplicaSet"},
                                                          {"name", "petrel-5d9"},
                                                          {"uid", "r"}}})}) {
    auto v = decideUninstall("kube-system", "petrel-x7k2p", {200, podOwnedBy(owners)},
                             [&](const std::string&) {
                               asked = true;
                               return ApiAnswer{404, ""};
                             });
    EXPECT_EQ(v.decision, UninstallDecision::kKeep) << owners;
    EXPECT_EQ(v.reason,
              "Pod kube-system/petrel-x7k2p is not owned by a DaemonSet: not an uninstall");
  }
  EXPECT_FALSE(asked);
}

TEST(UninstallCheck, AnUnreachableApiCannotTell) {
  auto pod = decide({0, "GET https://10.96.0.1:443/api/v1/...: Timeout was reached"}, {404, ""});
  EXPECT_EQ(pod.decision, UninstallDecision::kUnknown);
  EXPECT_NE(pod.reason.find("the API is unreachable (GET https://10.96.0.1:443"), std::string::npos)
      << pod.reason;
  auto ds = decide(kOwnPod, {0, "Couldn't connect to server"});
  EXPECT_EQ(ds.decision, UninstallDecision::kUnknown);
  EXPECT_NE(ds.reason.find("unreachable"), std::string::npos) << ds.reason;
}

TEST(UninstallCheck, MissingPermissionsCannotTellAndNameTheRbac) {
  auto pod = decide({403, R"({"kind":"Status","reason":"Forbidden"})"}, {404, ""});
  EXPECT_EQ(pod.decision, UninstallDecision::kUnknown);
  EXPECT_EQ(pod.reason,
            "HTTP 403 reading Pod kube-system/petrel-x7k2p (the agent's RBAC needs `get pods`): "
            "cannot tell");
  auto ds = decide(kOwnPod, {403, ""});
  EXPECT_EQ(ds.decision, UninstallDecision::kUnknown);
  EXPECT_EQ(ds.reason,
            "HTTP 403 reading DaemonSet kube-system/petrel (the agent's RBAC needs `get "
            "daemonsets`): cannot tell");
}

TEST(UninstallCheck, OtherAnswersCannotTell) {
  // The pod itself gone, a server error, or bodies that are not the objects asked for.
  EXPECT_EQ(decide({404, ""}, {404, ""}).decision, UninstallDecision::kUnknown);
  EXPECT_EQ(decide({500, "etcdserver: timeout"}, {404, ""}).decision, UninstallDecision::kUnknown);
  EXPECT_EQ(decide({200, "<html>proxy</html>"}, {404, ""}).decision, UninstallDecision::kUnknown);
  EXPECT_EQ(decide({200, R"({"kind":"Status"})"}, {404, ""}).decision, UninstallDecision::kUnknown);
  EXPECT_EQ(decide(kOwnPod, {500, ""}).decision, UninstallDecision::kUnknown);
  EXPECT_EQ(decide(kOwnPod, {200, "not json"}).decision, UninstallDecision::kUnknown);
}

TEST(UninstallCheck, NotInAPodKeepsWithoutAskingTheApi) {
  Options opt;
  opt.kubeconfig = "/nonexistent/kubeconfig";  // would be unknown if it were read
  auto v = checkUninstall(opt);
  EXPECT_EQ(v.decision, UninstallDecision::kKeep);
  opt.pod_name = "petrel-x7k2p";
  opt.pod_namespace = "kube-system";
  opt.cleanup_on_uninstall = false;
  EXPECT_EQ(checkUninstall(opt).decision, UninstallDecision::kKeep);
  opt.cleanup_on_uninstall = true;
  EXPECT_EQ(checkUninstall(opt).decision, UninstallDecision::kUnknown);  // the file is missing
}

}  // namespace
}  // namespace petrel::agent
