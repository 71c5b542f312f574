// decodePodSpec: a full pod, the defaults, and bad input whose errors name the pod and the field.
#include <gtest/gtest.h>

#include "tools/sandbox/kubelet/pod_spec.h"

namespace petrel::sandbox {
namespace {

using nlohmann::json;

// A valid pod with one container; tests change what they need.
json minimalPod() {
  return json::parse(R"({
    "metadata": {"namespace": "shop", "name": "web", "uid": "u-1"},
    "spec": {"containers": [{"name": "app"}]}
  })");
}

std::string errorOf(const json& pod) {
  auto r = decodePodSpec(pod);
  EXPECT_FALSE(r.isOk()) << "decoded a bad pod: " << pod.dump();
  if (r.isOk()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  return r.status().message();
}

TEST(KubeletPodSpec, DecodesAFullPod) {
  json pod = json::parse(R"({
    "metadata": {"namespace": "shop", "name": "web", "uid": "u-42"},
    "spec": {
      "nodeName": "node-a",
      "hostNetwork": true,
      "restartPolicy": "OnFailure",
      "terminationGracePeriodSeconds": 7,
      "containers": [
        {"name": "server",
         "command": ["/bin/server", "--flag"],
         "args": ["a", "b c"],
         "workingDir": "/srv",
         "env": [{"name": "MODE", "value": "fast"}, {"name": "EMPTY"}],
         "ports": [{"name": "metrics", "containerPort": 9100},
                   {"name": "http", "containerPort": 8080}],
         "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                            "initialDelaySeconds": 2, "periodSeconds": 3,
                            "timeoutSeconds": 4, "successThreshold": 5,
                            "failureThreshold": 6}},
        {"name": "sidecar",
         "readinessProbe": {"tcpSocket": {"port": 5432}}},
        {"name": "checker",
         "readinessProbe": {"exec": {"command": ["test", "-f", "/ready"]}}}
      ]
    },
    "status": {"phase": "Pending"}
  })");
  auto r = decodePodSpec(pod);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  const PodSpec& p = *r;
  EXPECT_EQ(p.key(), "shop/web");
  EXPECT_EQ(p.uid, "u-42");
  EXPECT_EQ(p.node_name, "node-a");
  EXPECT_TRUE(p.host_network);
  EXPECT_FALSE(p.deleting);
  EXPECT_EQ(p.grace_seconds, 7);
  EXPECT_EQ(p.restart_policy, "OnFailure");
  EXPECT_EQ(p.phase, "Pending");
  ASSERT_EQ(p.containers.size(), 3U);

  const ContainerSpec& server = p.containers[0];
  EXPECT_EQ(server.name, "server");
  EXPECT_EQ(server.command, (std::vector<std::string>{"/bin/server", "--flag"}));
  EXPECT_EQ(server.args, (std::vector<std::string>{"a", "b c"}));
  EXPECT_EQ(server.working_dir, "/srv");
  using Env = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(server.env, (Env{{"MODE", "fast"}, {"EMPTY", ""}}));
  ASSERT_TRUE(server.readiness.has_value());
  EXPECT_EQ(server.readiness->kind, Probe::Kind::kHttpGet);
  EXPECT_EQ(server.readiness->path, "/healthz");
  EXPECT_EQ(server.readiness->port, 8080) << "the named port resolves to its containerPort";
  EXPECT_EQ(server.readiness->initial_delay_seconds, 2);
  EXPECT_EQ(server.readiness->period_seconds, 3);
  EXPECT_EQ(server.readiness->timeout_seconds, 4);
  EXPECT_EQ(server.readiness->success_threshold, 5);
  EXPECT_EQ(server.readiness->failure_threshold, 6);

  const ContainerSpec& sidecar = p.containers[1];
  EXPECT_TRUE(sidecar.command.empty()) << "no command: petrel-workload runs";
  ASSERT_TRUE(sidecar.readiness.has_value());
  EXPECT_EQ(sidecar.readiness->kind, Probe::Kind::kTcpSocket);
  EXPECT_EQ(sidecar.readiness->port, 5432);
  EXPECT_EQ(sidecar.readiness->period_seconds, 10);
  EXPECT_EQ(sidecar.readiness->timeout_seconds, 1);
  EXPECT_EQ(sidecar.readiness->failure_threshold, 3);

  const ContainerSpec& checker = p.containers[2];
  ASSERT_TRUE(checker.readiness.has_value());
  EXPECT_EQ(checker.readiness->kind, Probe::Kind::kExec);
  EXPECT_EQ(checker.readiness->command, (std::vector<std::string>{"test", "-f", "/ready"}));
}

TEST(KubeletPodSpec, DefaultsWhenFieldsAreAbsent) {
  json pod = minimalPod();
  pod["metadata"].erase("namespace");
  auto r = decodePodSpec(pod);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->namespace_, "default");
  EXPECT_EQ(r->key(), "default/web");
  EXPECT_EQ(r->restart_policy, "Always");
  EXPECT_EQ(r->grace_seconds, 30);
  EXPECT_FALSE(r->deleting);
  EXPECT_FALSE(r->host_network);
  EXPECT_EQ(r->phase, "");
  ASSERT_EQ(r->containers.size(), 1U);
  EXPECT_FALSE(r->containers[0].readiness.has_value());
  EXPECT_TRUE(r->containers[0].env.empty());
}

TEST(KubeletPodSpec, DeletionGraceOverridesTerminationGrace) {
  json pod = minimalPod();
  pod["spec"]["terminationGracePeriodSeconds"] = 60;
  auto before = decodePodSpec(pod);
  ASSERT_TRUE(before.isOk()) << before.status().toString();
  EXPECT_EQ(before->grace_seconds, 60);
  EXPECT_FALSE(before->deleting);

  pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  pod["metadata"]["deletionGracePeriodSeconds"] = 5;
  auto deleting = decodePodSpec(pod);
  ASSERT_TRUE(deleting.isOk()) << deleting.status().toString();
  EXPECT_TRUE(deleting->deleting);
  EXPECT_EQ(deleting->grace_seconds, 5);

  // A forced delete (grace 0) stays 0.
  pod["metadata"]["deletionGracePeriodSeconds"] = 0;
  auto forced = decodePodSpec(pod);
  ASSERT_TRUE(forced.isOk()) << forced.status().toString();
  EXPECT_EQ(forced->grace_seconds, 0);
}

TEST(KubeletPodSpec, NoContainersNamesPodAndField) {
  json pod = minimalPod();
  pod["spec"]["containers"] = json::array();
  EXPECT_EQ(errorOf(pod), "shop/web: spec.containers: needs at least one");
  pod["spec"].erase("containers");
  EXPECT_EQ(errorOf(pod), "shop/web: spec.containers: needs at least one");
}

TEST(KubeletPodSpec, ContainerWithoutNameNamesItsIndex) {
  json pod = minimalPod();
  pod["spec"]["containers"].push_back(json::object());
  EXPECT_EQ(errorOf(pod), "shop/web: spec.containers[1].name: missing");
}

TEST(KubeletPodSpec, CommandMustBeAListOfStrings) {
  json pod = minimalPod();
  pod["spec"]["containers"][0]["command"] = json::array({"sleep", 10});
  EXPECT_EQ(errorOf(pod), "shop/web: spec.containers[0].command: not a list of strings");
  pod["spec"]["containers"][0]["command"] = "sleep 10";
  EXPECT_EQ(errorOf(pod), "shop/web: spec.containers[0].command: not a list");
  pod["spec"]["containers"][0]["command"] = json::array({"sleep"});
  pod["spec"]["containers"][0]["args"] = json::array({json::object()});
  EXPECT_EQ(errorOf(pod), "shop/web: spec.containers[0].args: not a list of strings");
}

TEST(KubeletPodSpec, UnknownRestartPolicy) {
  json pod = minimalPod();
  pod["spec"]["restartPolicy"] = "Sometimes";
  EXPECT_EQ(errorOf(pod), "shop/web: spec.restartPolicy: unknown value \"Sometimes\"");
}

TEST(KubeletPodSpec, ProbePortNameNotFound) {
  json pod = minimalPod();
  auto& c = pod["spec"]["containers"][0];
  c["ports"] = json::parse(R"([{"name": "http", "containerPort": 80}])");
  c["readinessProbe"] = json::parse(R"({"httpGet": {"port": "https"}})");
  EXPECT_EQ(errorOf(pod),
            "shop/web: spec.containers[0].readinessProbe.httpGet.port: no container port named "
            "\"https\"");
  c["readinessProbe"] = json::parse(R"({"tcpSocket": {"port": "https"}})");
  EXPECT_EQ(errorOf(pod),
            "shop/web: spec.containers[0].readinessProbe.tcpSocket.port: no container port named "
            "\"https\"");
}

TEST(KubeletPodSpec, ProbePortOutOfRange) {
  json pod = minimalPod();
  auto& c = pod["spec"]["containers"][0];
  c["readinessProbe"] = json::parse(R"({"tcpSocket": {"port": 70000}})");
  EXPECT_EQ(errorOf(pod),
            "shop/web: spec.containers[0].readinessProbe.tcpSocket.port: port 70000 out of range");
  c["readinessProbe"] = json::parse(R"({"httpGet": {"port": 0}})");
  EXPECT_EQ(errorOf(pod),
            "shop/web: spec.containers[0].readinessProbe.httpGet.port: port 0 out of range");
  // A named port whose containerPort is out of range is refused too.
  c["ports"] = json::parse(R"([{"name": "big", "containerPort": 70000}])");
  c["readinessProbe"] = json::parse(R"({"httpGet": {"port": "big"}})");
  EXPECT_EQ(errorOf(pod),
            "shop/web: spec.containers[0].readinessProbe.httpGet.port: port 70000 out of range");
}

TEST(KubeletPodSpec, ProbeWithoutAHandlerOrWithBadNumbers) {
  json pod = minimalPod();
  auto& c = pod["spec"]["containers"][0];
  c["readinessProbe"] = json::object();
  EXPECT_EQ(errorOf(pod),
            "shop/web: spec.containers[0].readinessProbe: needs httpGet, tcpSocket or exec");
  c["readinessProbe"] = json::parse(R"({"exec": {"command": []}})");
  EXPECT_EQ(errorOf(pod), "shop/web: spec.containers[0].readinessProbe.exec.command: empty");
  c["readinessProbe"] = json::parse(R"({"tcpSocket": {"port": 80}, "periodSeconds": 0})");
  EXPECT_EQ(errorOf(pod),
            "shop/web: spec.containers[0].readinessProbe.periodSeconds: must be an integer >= 1");
}

TEST(KubeletPodSpec, EnvNameWithEqualsSign) {
  json pod = minimalPod();
  pod["spec"]["containers"][0]["env"] = json::parse(R"([{"name": "A=B", "value": "c"}])");
  EXPECT_EQ(errorOf(pod), "shop/web: spec.containers[0].env: bad variable name \"A=B\"");
  pod["spec"]["containers"][0]["env"] = json::parse(R"([{"value": "c"}])");
  EXPECT_EQ(errorOf(pod), "shop/web: spec.containers[0].env: bad variable name \"\"");
}

TEST(KubeletPodSpec, NonObjectPod) {
  EXPECT_EQ(errorOf(json::array({1, 2})), "pod: not a JSON object");
  EXPECT_EQ(errorOf(json("web")), "pod: not a JSON object");
  EXPECT_EQ(errorOf(json()), "pod: not a JSON object");
}

TEST(KubeletPodSpec, MissingUidOrNameNamesTheField) {
  json pod = minimalPod();
  pod["metadata"].erase("uid");
  EXPECT_EQ(errorOf(pod), "shop/web: metadata.uid: missing");
  pod = minimalPod();
  pod["metadata"].erase("name");
  EXPECT_EQ(errorOf(pod), "pod in namespace shop: metadata.name: missing");
}

TEST(KubeletPodSpec, NegativeGraceIsRefused) {
  json pod = minimalPod();
  pod["spec"]["terminationGracePeriodSeconds"] = -1;
  EXPECT_EQ(errorOf(pod), "shop/web: spec.terminationGracePeriodSeconds: must be an integer >= 0");
}

}  // namespace
// What runs without images: command + args; args alone are the command (`kubectl run t
// --image=busybox -- sleep 3600`); neither: petrel-workload.
TEST(KubeletPodSpec, ArgvFollowsKubectlRunHabits) {
  ContainerSpec c;
  EXPECT_EQ(c.argv(), (std::vector<std::string>{"petrel-workload"}));
  c.args = {"sleep", "3600"};
  EXPECT_EQ(c.argv(), (std::vector<std::string>{"sleep", "3600"}));
  c.command = {"/bin/sh", "-c"};
  c.args = {"echo hi"};
  EXPECT_EQ(c.argv(), (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  c.args.clear();
  EXPECT_EQ(c.argv(), (std::vector<std::string>{"/bin/sh", "-c"}));
}

}  // namespace petrel::sandbox
