// containerEnv, fieldRefValue, kubernetesServiceEnv and expandArgv: values from the pod, its
// addresses and (fake) ConfigMaps and Secrets, in Kubernetes' order and precedence.
#include <gtest/gtest.h>

#include "test/unit/tools/sandbox/kubelet/fake_object_source.h"
#include "tools/sandbox/kubelet/container_env.h"

namespace petrel::sandbox {
namespace {

using nlohmann::json;

PodSpec pod() {
  auto p = decodePodSpec(json::parse(R"({
    "metadata": {"namespace": "shop", "name": "web", "uid": "u-1",
                 "labels": {"app": "web", "tier": "front"},
                 "annotations": {"note": "say \"hi\""}},
    "spec": {"nodeName": "node-1", "serviceAccountName": "robot",
             "containers": [{"name": "app"}]}
  })"));
  EXPECT_TRUE(p.isOk()) << p.status().toString();
  return *p;
}

const PodAddresses kAddresses{{"10.1.0.5", "fd00::5"}, "192.168.1.10"};

EnvVar literal(std::string name, std::string value) {
  EnvVar v;
  v.name = std::move(name);
  v.value = std::move(value);
  return v;
}

EnvVar field(std::string name, std::string path) {
  EnvVar v;
  v.name = std::move(name);
  v.source = EnvVar::Source::kFieldRef;
  v.field_path = std::move(path);
  return v;
}

EnvVar keyRef(EnvVar::Source source, std::string name, std::string object, std::string key,
              bool optional = false) {
  EnvVar v;
  v.name = std::move(name);
  v.source = source;
  v.object = std::move(object);
  v.key = std::move(key);
  v.optional = optional;
  return v;
}

TEST(KubeletContainerEnv, FieldRefs) {
  const PodSpec p = pod();
  auto value = [&](const char* path) {
    auto v = fieldRefValue(p, path, kAddresses);
    EXPECT_TRUE(v.isOk()) << path << ": " << v.status().toString();
    return v.isOk() ? *v : "<error>";
  };
  EXPECT_EQ(value("metadata.name"), "web");
  EXPECT_EQ(value("metadata.namespace"), "shop");
  EXPECT_EQ(value("metadata.uid"), "u-1");
  EXPECT_EQ(value("spec.nodeName"), "node-1");
  EXPECT_EQ(value("spec.serviceAccountName"), "robot");
  EXPECT_EQ(value("status.podIP"), "10.1.0.5");
  EXPECT_EQ(value("status.podIPs"), "10.1.0.5,fd00::5");
  EXPECT_EQ(value("status.hostIP"), "192.168.1.10");
  EXPECT_EQ(value("metadata.labels['app']"), "web");
  EXPECT_EQ(value("metadata.labels['missing']"), "");
  EXPECT_EQ(value("metadata.labels"), "app=\"web\"\ntier=\"front\"\n");
  EXPECT_EQ(value("metadata.annotations"), "note=\"say \\\"hi\\\"\"\n");
  auto bad = fieldRefValue(p, "spec.hostname", kAddresses);
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().message(), "fieldRef spec.hostname: not supported");
}

TEST(KubeletContainerEnv, KubernetesServiceVariables) {
  EnvList env = kubernetesServiceEnv("10.96.0.1", 443);
  EnvList want = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                  {"KUBERNETES_SERVICE_PORT", "443"},
                  {"KUBERNETES_SERVICE_PORT_HTTPS", "443"},
                  {"KUBERNETES_PORT", "tcp://10.96.0.1:443"},
                  {"KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"},
                  {"KUBERNETES_PORT_443_TCP_PROTO", "tcp"},
                  {"KUBERNETES_PORT_443_TCP_PORT", "443"},
                  {"KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"}};
  EXPECT_EQ(env, want);
}

TEST(KubeletContainerEnv, ResolvesAndExpandsInOrder) {
  PodSpec p = pod();
  FakeObjectSource objects;
  objects.config_maps["shop/settings"] = {{"mode", "fast"}};
  objects.secrets["shop/creds"] = {{"password", "s3cret"}};
  ContainerSpec& c = p.containers[0];
  c.env = {literal("LATER_REF", "$(ME)"),  // ME is defined after it: left as written
           field("ME", "metadata.name"),
           field("IP", "status.podIP"),
           literal("URL", "http://$(IP):80/$(ME)?$$(ME)&$(KUBERNETES_SERVICE_HOST)"),
           keyRef(EnvVar::Source::kConfigMapKey, "MODE", "settings", "mode"),
           keyRef(EnvVar::Source::kSecretKey, "PASSWORD", "creds", "password"),
           keyRef(EnvVar::Source::kConfigMapKey, "OPT", "absent", "x", true),
           literal("KUBERNETES_SERVICE_PORT", "8443"),
           literal("ME", "again")};  // a later entry replaces the earlier value
  auto env = containerEnv(p, c, kAddresses, kubernetesServiceEnv("10.96.0.1", 443), objects);
  ASSERT_TRUE(env.isOk()) << env.status().toString();
  EnvList& e = *env;
  ASSERT_GE(e.size(), 7U);
  EXPECT_EQ(e[0], (std::pair<std::string, std::string>{"LATER_REF", "$(ME)"}));
  EXPECT_EQ(e[1], (std::pair<std::string, std::string>{"ME", "again"}));
  EXPECT_EQ(e[2], (std::pair<std::string, std::string>{"IP", "10.1.0.5"}));
  EXPECT_EQ(e[3].second, "http://10.1.0.5:80/web?$(ME)&10.96.0.1");
  EXPECT_EQ(e[4], (std::pair<std::string, std::string>{"MODE", "fast"}));
  EXPECT_EQ(e[5], (std::pair<std::string, std::string>{"PASSWORD", "s3cret"}));
  EXPECT_EQ(e[6], (std::pair<std::string, std::string>{"KUBERNETES_SERVICE_PORT", "8443"}))
      << "the container's own value wins over the service variable";
  int port_vars = 0, host_vars = 0;
  for (const auto& [k, v] : e) {
    port_vars += k == "KUBERNETES_SERVICE_PORT";
    host_vars += k == "KUBERNETES_SERVICE_HOST";
    EXPECT_NE(k, "OPT") << "an optional reference to a missing ConfigMap gives no variable";
  }
  EXPECT_EQ(port_vars, 1);
  EXPECT_EQ(host_vars, 1);
  EXPECT_EQ(e.size(), 7U + 7U) << "seven service variables the container does not set";
}

TEST(KubeletContainerEnv, MissingReferencesNameContainerAndEntry) {
  PodSpec p = pod();
  FakeObjectSource objects;
  objects.config_maps["shop/settings"] = {{"mode", "fast"}};
  ContainerSpec& c = p.containers[0];
  c.env = {keyRef(EnvVar::Source::kConfigMapKey, "MODE", "settings", "speed")};
  auto env = containerEnv(p, c, kAddresses, {}, objects);
  ASSERT_FALSE(env.isOk());
  EXPECT_EQ(env.status().message(),
            "container app: env MODE: configmap \"settings\" has no key \"speed\"");
  c.env = {keyRef(EnvVar::Source::kSecretKey, "PW", "creds", "password")};
  env = containerEnv(p, c, kAddresses, {}, objects);
  ASSERT_FALSE(env.isOk());
  EXPECT_EQ(env.status().code(), Code::kNotFound);
  EXPECT_EQ(env.status().message(),
            "container app: env PW: secret \"creds\": secret shop/creds not found");
  c.env = {field("X", "spec.nope")};
  env = containerEnv(p, c, kAddresses, {}, objects);
  ASSERT_FALSE(env.isOk());
  EXPECT_EQ(env.status().message(), "container app: env X: fieldRef spec.nope: not supported");
}

TEST(KubeletContainerEnv, ArgvExpansion) {
  EnvList env = {{"PORT", "53"}, {"EMPTY", ""}};
  EXPECT_EQ(expandArgv({"serve", "--port=$(PORT)", "$(EMPTY)", "$(NOPE)", "$$(PORT)"}, env),
            (std::vector<std::string>{"serve", "--port=53", "", "$(NOPE)", "$(PORT)"}));
}

}  // namespace
}  // namespace petrel::sandbox
