// buildPodStatus / buildPendingStatus: phase, IPs, Ready, container states, determinism.
#include <gtest/gtest.h>

#include "tools/sandbox/kubelet/pod_status.h"

namespace petrel::sandbox {
namespace {

using nlohmann::json;

PodSpec podWith(const std::string& restart_policy) {
  PodSpec pod;
  pod.namespace_ = "shop";
  pod.name = "web";
  pod.uid = "u-1";
  pod.restart_policy = restart_policy;
  pod.containers.resize(2);
  pod.containers[0].name = "app";
  pod.containers[1].name = "side";
  return pod;
}

ContainerRun running(const std::string& name, pid_t pid, bool ready) {
  ContainerRun c;
  c.name = name;
  c.pid = pid;
  c.start_time = 1234;
  c.started_at = "2026-01-01T00:00:01Z";
  c.ready = ready;
  return c;
}

ContainerRun created(const std::string& name) {
  ContainerRun c;
  c.name = name;
  return c;
}

ContainerRun exited(const std::string& name, int code, bool done) {
  ContainerRun c;
  c.name = name;
  c.last_exit = code;
  c.done = done;
  c.restarts = done ? 0 : 2;
  return c;
}

PodRecord recordOf(std::vector<ContainerRun> containers) {
  PodRecord r;
  r.uid = "u-1";
  r.namespace_ = "shop";
  r.name = "web";
  r.netns = "petrel-shop-web";
  r.ips = {"10.244.1.5"};
  r.started_at = "2026-01-01T00:00:00Z";
  r.containers = std::move(containers);
  return r;
}

// The "status" of the condition `type`, or "" when it is absent.
std::string conditionStatus(const json& status, const std::string& type) {
  for (const auto& c : status["conditions"]) {
    if (c["type"] == type) return c["status"].get<std::string>();
  }
  return "";
}

const json& containerNamed(const json& status, const std::string& name) {
  for (const auto& c : status["containerStatuses"]) {
    if (c["name"] == name) return c;
  }
  static const json kNone;
  ADD_FAILURE() << "no containerStatus for " << name << " in " << status.dump();
  return kNone;
}

TEST(KubeletPodStatus, RunningPodWithIpsIsReadyWhenEveryContainerIs) {
  PodSpec pod = podWith("Always");
  PodRecord rec = recordOf({running("app", 101, true), running("side", 102, true)});
  json s = buildPodStatus(pod, rec, "192.168.50.2");
  EXPECT_EQ(s["phase"], "Running");
  EXPECT_EQ(s["podIP"], "10.244.1.5");
  EXPECT_EQ(s["podIPs"], json::parse(R"([{"ip": "10.244.1.5"}])"));
  EXPECT_EQ(s["hostIP"], "192.168.50.2");
  EXPECT_EQ(s["hostIPs"], json::parse(R"([{"ip": "192.168.50.2"}])"));
  EXPECT_EQ(s["startTime"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(conditionStatus(s, "PodScheduled"), "True");
  EXPECT_EQ(conditionStatus(s, "Ready"), "True");
  EXPECT_EQ(conditionStatus(s, "ContainersReady"), "True");
  ASSERT_EQ(s["containerStatuses"].size(), 2U);
  const json& app = containerNamed(s, "app");
  EXPECT_EQ(app["ready"], true);
  EXPECT_EQ(app["started"], true);
  EXPECT_EQ(app["containerID"], "process://101");
  EXPECT_EQ(app["state"]["running"]["startedAt"], "2026-01-01T00:00:01Z");
  EXPECT_FALSE(app["state"].contains("waiting"));
  EXPECT_FALSE(app["state"].contains("terminated"));
}

TEST(KubeletPodStatus, NotReadyWhenOneContainerIsNot) {
  PodSpec pod = podWith("Always");
  json s = buildPodStatus(pod, recordOf({running("app", 101, true), running("side", 102, false)}),
                          "192.168.50.2");
  EXPECT_EQ(s["phase"], "Running");
  EXPECT_EQ(conditionStatus(s, "Ready"), "False");
  EXPECT_EQ(conditionStatus(s, "ContainersReady"), "False");
  EXPECT_EQ(containerNamed(s, "side")["ready"], false);
  EXPECT_EQ(containerNamed(s, "app")["ready"], true);
}

TEST(KubeletPodStatus, NotReadyWhileStopping) {
  PodSpec pod = podWith("Always");
  PodRecord rec = recordOf({running("app", 101, true), running("side", 102, true)});
  rec.stopping = true;
  json s = buildPodStatus(pod, rec, "192.168.50.2");
  EXPECT_EQ(conditionStatus(s, "Ready"), "False");
  EXPECT_EQ(conditionStatus(s, "ContainersReady"), "False");
}

TEST(KubeletPodStatus, NoPodIpUntilCniGaveOne) {
  PodSpec pod = podWith("Always");
  PodRecord rec = recordOf({running("app", 101, false), running("side", 102, false)});
  rec.ips.clear();
  json s = buildPodStatus(pod, rec, "192.168.50.2");
  EXPECT_FALSE(s.contains("podIP"));
  EXPECT_FALSE(s.contains("podIPs"));
  EXPECT_EQ(s["hostIP"], "192.168.50.2");
}

TEST(KubeletPodStatus, ContainerStates) {
  PodSpec pod = podWith("Always");
  PodRecord rec = recordOf({exited("app", 3, false), created("side")});
  json s = buildPodStatus(pod, rec, "192.168.50.2");
  EXPECT_EQ(s["phase"], "Running");
  const json& app = containerNamed(s, "app");
  EXPECT_EQ(app["state"]["waiting"]["reason"], "CrashLoopBackOff") << app.dump();
  EXPECT_EQ(app["restartCount"], 2);
  EXPECT_EQ(app["started"], false);
  EXPECT_EQ(app["containerID"], "");
  // Never started yet: still being created.
  EXPECT_EQ(containerNamed(s, "side")["state"]["waiting"]["reason"], "ContainerCreating");
  EXPECT_EQ(conditionStatus(s, "Ready"), "False");
}

TEST(KubeletPodStatus, NeverPolicySucceedsWhenAllExitedZero) {
  PodSpec pod = podWith("Never");
  json s =
      buildPodStatus(pod, recordOf({exited("app", 0, true), exited("side", 0, true)}), "10.0.0.1");
  EXPECT_EQ(s["phase"], "Succeeded");
  EXPECT_EQ(conditionStatus(s, "Ready"), "False");
  const json& app = containerNamed(s, "app");
  EXPECT_EQ(app["state"]["terminated"]["exitCode"], 0);
  EXPECT_EQ(app["state"]["terminated"]["reason"], "Completed");
}

TEST(KubeletPodStatus, NeverPolicyFailsWhenOneExitedNonZero) {
  PodSpec pod = podWith("Never");
  json s =
      buildPodStatus(pod, recordOf({exited("app", 0, true), exited("side", 2, true)}), "10.0.0.1");
  EXPECT_EQ(s["phase"], "Failed");
  const json& side = containerNamed(s, "side");
  EXPECT_EQ(side["state"]["terminated"]["exitCode"], 2);
  EXPECT_EQ(side["state"]["terminated"]["reason"], "Error");
}

TEST(KubeletPodStatus, OnFailurePolicySucceedsAndStaysRunningWhileOneRuns) {
  PodSpec pod = podWith("OnFailure");
  json done =
      buildPodStatus(pod, recordOf({exited("app", 0, true), exited("side", 0, true)}), "10.0.0.1");
  EXPECT_EQ(done["phase"], "Succeeded");
  json half =
      buildPodStatus(pod, recordOf({exited("app", 0, true), running("side", 7, true)}), "10.0.0.1");
  EXPECT_EQ(half["phase"], "Running");
  EXPECT_EQ(conditionStatus(half, "Ready"), "False") << "a finished container is not ready";
}

TEST(KubeletPodStatus, AlwaysPolicyNeverFinishes) {
  PodSpec pod = podWith("Always");
  json s =
      buildPodStatus(pod, recordOf({exited("app", 0, true), exited("side", 1, true)}), "10.0.0.1");
  EXPECT_EQ(s["phase"], "Running");
}

TEST(KubeletPodStatus, SameRecordBuildsIdenticalJson) {
  PodSpec pod = podWith("Always");
  PodRecord rec = recordOf({running("app", 101, true), exited("side", 1, false)});
  const std::string first = buildPodStatus(pod, rec, "192.168.50.2").dump();
  const std::string second = buildPodStatus(pod, rec, "192.168.50.2").dump();
  EXPECT_EQ(first, second);
  // And a visible change does change it.
  rec.containers[0].ready = false;
  EXPECT_NE(buildPodStatus(pod, rec, "192.168.50.2").dump(), first);
}

TEST(KubeletPodStatus, PendingCarriesReasonAndMessage) {
  json s = buildPendingStatus("192.168.50.3", "CniFailed", "CNI plugin bridge ADD failed");
  EXPECT_EQ(s["phase"], "Pending");
  EXPECT_EQ(s["hostIP"], "192.168.50.3");
  EXPECT_EQ(conditionStatus(s, "PodScheduled"), "True");
  EXPECT_EQ(conditionStatus(s, "Ready"), "False");
  bool found = false;
  for (const auto& c : s["conditions"]) {
    if (c["type"] != "Ready") continue;
    found = true;
    EXPECT_EQ(c["reason"], "CniFailed");
    EXPECT_EQ(c["message"], "CNI plugin bridge ADD failed");
  }
  EXPECT_TRUE(found);
  EXPECT_FALSE(s.contains("podIP"));
  EXPECT_EQ(buildPendingStatus("192.168.50.3", "CniFailed", "x").dump(),
            buildPendingStatus("192.168.50.3", "CniFailed", "x").dump());
}

}  // namespace
}  // namespace petrel::sandbox

namespace petrel::sandbox {
namespace {

TEST(KubeletPodStatus, InitContainersKeepThePodPendingAndUninitialized) {
  PodSpec pod = podWith("Always");
  PodRecord record;
  record.ips = {"10.0.1.5"};
  record.initialized = false;
  record.init_containers = {exited("prep", 0, true), running("install", 77, false)};
  record.containers = {created("app"), created("side")};
  json s = buildPodStatus(pod, record, "192.168.1.10");
  EXPECT_EQ(s["phase"], "Pending");
  EXPECT_EQ(
      s["conditions"][1],
      (json{{"type", "Initialized"}, {"status", "False"}, {"reason", "ContainersNotInitialized"}}));
  ASSERT_EQ(s["initContainerStatuses"].size(), 2U);
  EXPECT_EQ(s["initContainerStatuses"][0]["ready"], true) << "succeeded";
  EXPECT_EQ(s["initContainerStatuses"][0]["state"]["terminated"]["exitCode"], 0);
  EXPECT_EQ(s["initContainerStatuses"][1]["ready"], false);
  EXPECT_TRUE(s["initContainerStatuses"][1]["state"].contains("running"));
  EXPECT_EQ(s["containerStatuses"][0]["state"]["waiting"]["reason"], "PodInitializing");

  record.init_containers[1] = exited("install", 1, true);  // restartPolicy Never: failed for good
  EXPECT_EQ(buildPodStatus(pod, record, "192.168.1.10")["phase"], "Failed");

  record.init_containers[1] = exited("install", 0, true);
  record.initialized = true;
  record.containers = {running("app", 80, true), running("side", 81, true)};
  s = buildPodStatus(pod, record, "192.168.1.10");
  EXPECT_EQ(s["phase"], "Running");
  EXPECT_EQ(s["conditions"][1], (json{{"type", "Initialized"}, {"status", "True"}}));
  EXPECT_EQ(s["conditions"][3]["status"], "True");
}

}  // namespace
}  // namespace petrel::sandbox
