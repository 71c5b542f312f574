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
  ASSERT_EQ(server.env.size(), 2U);
  EXPECT_EQ(server.env[0].name, "MODE");
  EXPECT_EQ(server.env[0].value, "fast");
  EXPECT_EQ(server.env[1].name, "EMPTY");
  EXPECT_EQ(server.env[1].value, "");
  EXPECT_EQ(server.env[1].source, EnvVar::Source::kValue);
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

TEST(KubeletPodSpec, PreStopSleepIsDecodedAndOtherHandlersAreRefused) {
  json pod = minimalPod();
  auto plain = decodePodSpec(pod);
  ASSERT_TRUE(plain.isOk());
  EXPECT_EQ(plain->containers[0].pre_stop_sleep_seconds, 0);
  pod["spec"]["containers"][0]["lifecycle"] = {{"preStop", {{"sleep", {{"seconds", 3}}}}}};
  auto sleeping = decodePodSpec(pod);
  ASSERT_TRUE(sleeping.isOk()) << sleeping.status().toString();
  EXPECT_EQ(sleeping->containers[0].pre_stop_sleep_seconds, 3);
  pod["spec"]["containers"][0]["lifecycle"] = {
      {"preStop", {{"exec", {{"command", {"sh", "-c", "sleep 1"}}}}}}};
  EXPECT_NE(errorOf(pod).find("spec.containers[0].lifecycle.preStop"), std::string::npos);
  pod["spec"]["containers"][0]["lifecycle"] = {{"preStop", {{"sleep", {{"seconds", -1}}}}}};
  EXPECT_NE(errorOf(pod).find("only sleep"), std::string::npos);
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
  EXPECT_EQ(errorOf(pod), "shop/web: spec.containers[0].env[0].name: bad variable name \"A=B\"");
  pod["spec"]["containers"][0]["env"] = json::parse(R"([{"value": "c"}])");
  EXPECT_EQ(errorOf(pod), "shop/web: spec.containers[0].env[0].name: bad variable name \"\"");
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

namespace petrel::sandbox {
namespace {

TEST(KubeletPodSpec, DecodesEnvSourcesMountsDnsAndInitContainers) {
  json pod = json::parse(R"({
    "metadata": {"namespace": "kube-system", "name": "dns", "uid": "u-9",
                 "labels": {"k8s-app": "kube-dns"}},
    "spec": {
      "serviceAccountName": "coredns",
      "dnsPolicy": "Default",
      "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["x.example"],
                    "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]},
      "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
      "initContainers": [{"name": "prep", "command": ["true"]}],
      "containers": [{
        "name": "coredns",
        "image": "registry.k8s.io/coredns/coredns:v1.15.0",
        "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k",
                                                                   "optional": true}}},
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}}],
        "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": true}]
      }]
    }
  })");
  auto r = decodePodSpec(pod);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->service_account, "coredns");
  EXPECT_EQ(r->dns_policy, "Default");
  EXPECT_EQ(r->dns_config.nameservers, (std::vector<std::string>{"1.1.1.1"}));
  ASSERT_EQ(r->dns_config.options.size(), 2U);
  EXPECT_EQ(r->dns_config.options[1].second, std::nullopt);
  EXPECT_EQ(r->labels.at("k8s-app"), "kube-dns");
  ASSERT_EQ(r->init_containers.size(), 1U);
  EXPECT_EQ(r->init_containers[0].name, "prep");
  const ContainerSpec& c = r->containers[0];
  EXPECT_EQ(c.image, "registry.k8s.io/coredns/coredns:v1.15.0");
  ASSERT_EQ(c.env.size(), 3U);
  EXPECT_EQ(c.env[0].source, EnvVar::Source::kFieldRef);
  EXPECT_EQ(c.env[0].field_path, "spec.nodeName");
  EXPECT_EQ(c.env[1].source, EnvVar::Source::kConfigMapKey);
  EXPECT_TRUE(c.env[1].optional);
  EXPECT_EQ(c.env[2].source, EnvVar::Source::kSecretKey);
  EXPECT_EQ(c.env[2].object, "s");
  EXPECT_EQ(c.env[2].key, "pw");
  ASSERT_EQ(c.volume_mounts.size(), 1U);
  EXPECT_EQ(c.volume_mounts[0].mount_path, "/etc/coredns");
  EXPECT_TRUE(c.volume_mounts[0].read_only);
  ASSERT_EQ(r->volumes.size(), 1U);
  EXPECT_EQ(r->volumes[0].kind, VolumeSpec::Kind::kFiles);
  EXPECT_EQ(r->volumes[0].sources[0].name, "coredns");
}

TEST(KubeletPodSpec, VolumeErrorsNameTheField) {
  auto errorWith = [](const char* volumes, const char* mounts = "[]") {
    json pod = minimalPod();
    pod["spec"]["volumes"] = json::parse(volumes);
    pod["spec"]["containers"][0]["volumeMounts"] = json::parse(mounts);
    return errorOf(pod);
  };
  EXPECT_EQ(errorWith(R"([{"name": "v", "nfs": {}}])"),
            "shop/web: spec.volumes[0]: unsupported volume type (the sandbox supports projected, "
            "configMap, secret, downwardAPI, emptyDir and hostPath)");
  EXPECT_EQ(errorWith(R"([{"name": "v", "emptyDir": {}}, {"configMap": {"name": "c"}}])"),
            "shop/web: spec.volumes[1].name: missing or not a valid name");
  EXPECT_EQ(errorWith(R"([{"name": "v", "configMap": {}}])"),
            "shop/web: spec.volumes[0].configMap.name: missing");
  EXPECT_EQ(errorWith(R"([{"name": "v", "secret": {"name": "s"}}])"),
            "shop/web: spec.volumes[0].secret.secretName: missing");
  EXPECT_EQ(errorWith(R"([{"name": "v", "configMap": {"name": "c",
                           "items": [{"key": "k", "path": "../escape"}]}}])"),
            "shop/web: spec.volumes[0].configMap.items[0].path: \"../escape\" must not contain ..");
  EXPECT_EQ(errorWith(R"([{"name": "v", "projected": {"sources": [{"serviceAccountToken":
                           {"path": "token", "expirationSeconds": 60}}]}}])"),
            "shop/web: spec.volumes[0].projected.sources[0].serviceAccountToken."
            "expirationSeconds: must be an integer of at least 600");
  EXPECT_EQ(errorWith(R"([{"name": "v", "projected": {"sources": [{"clusterTrustBundle": {}}]}}])"),
            "shop/web: spec.volumes[0].projected.sources[0]: needs serviceAccountToken, "
            "configMap, secret or downwardAPI");
  EXPECT_EQ(errorWith(R"([{"name": "v", "hostPath": {"path": "relative"}}])"),
            "shop/web: spec.volumes[0].hostPath.path: must be an absolute path");
  EXPECT_EQ(errorWith(R"([{"name": "v", "downwardAPI": {"items": [{"path": "cpu",
                           "resourceFieldRef": {"resource": "limits.cpu"}}]}}])"),
            "shop/web: spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath: missing "
            "(resourceFieldRef is not supported)");
  EXPECT_EQ(
      errorWith(R"([{"name": "v", "emptyDir": {}}])", R"([{"name": "w", "mountPath": "/w"}])"),
      "shop/web: container app: volumeMounts: no volume named \"w\"");
  EXPECT_EQ(errorWith(R"([{"name": "v", "emptyDir": {}}])", R"([{"name": "v", "mountPath": "w"}])"),
            "shop/web: spec.containers[0].volumeMounts[0].mountPath: must be an absolute path");
}

TEST(KubeletPodSpec, EnvSourceErrorsNameTheEntry) {
  json pod = minimalPod();
  auto& env = pod["spec"]["containers"][0]["env"];
  env = json::parse(
      R"([{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}])");
  EXPECT_EQ(errorOf(pod),
            "shop/web: spec.containers[0].env[0].valueFrom: the sandbox supports fieldRef, "
            "configMapKeyRef and secretKeyRef");
  env = json::parse(R"([{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c"}}}])");
  EXPECT_EQ(errorOf(pod),
            "shop/web: spec.containers[0].env[0].valueFrom.configMapKeyRef: needs name and key");
  pod["spec"]["containers"][0].erase("env");
  pod["spec"]["dnsPolicy"] = "Cluster";
  EXPECT_EQ(errorOf(pod), "shop/web: spec.dnsPolicy: unknown value \"Cluster\"");
}

}  // namespace
}  // namespace petrel::sandbox
