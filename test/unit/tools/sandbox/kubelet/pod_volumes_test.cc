// PodVolumes with a fake API: the files of the service account volume the admission plugin
// injects, configMap/secret/emptyDir/hostPath volumes, errors naming the volume, token renewal
// at 80% of the lifetime (24 hours at most), and the paths mounts show.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "test/unit/tools/sandbox/kubelet/fake_object_source.h"
#include "tools/sandbox/kubelet/pod_volumes.h"

namespace petrel::sandbox {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class KubeletPodVolumes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("petrel-volumes-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    objects_.config_maps["shop/kube-root-ca.crt"] = {{"ca.crt", "CA PEM"}};
    objects_.config_maps["shop/settings"] = {{"a.conf", "A"}, {"b.conf", "B"}};
    objects_.secrets["shop/creds"] = {{"password", "s3cret"}};
    objects_.now = SystemTime{} + 1000h;
  }
  void TearDown() override { fs::remove_all(dir_); }

  PodSpec pod(const json& volumes) {
    json p = {{"metadata", {{"namespace", "shop"}, {"name", "web"}, {"uid", "u-1"}}},
              {"spec",
               {{"serviceAccountName", "robot"},
                {"containers", {{{"name", "app"}}}},
                {"volumes", volumes}}}};
    auto r = decodePodSpec(p);
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return r.isOk() ? *r : PodSpec{};
  }

  // The volume the ServiceAccount admission plugin injects into every pod.
  static json apiAccess() {
    return json::parse(R"({"name": "kube-api-access-x1y2z", "projected": {"sources": [
      {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
      {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
      {"downwardAPI": {"items": [{"path": "namespace",
                                  "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
    ]}})");
  }

  fs::path dir_;
  FakeObjectSource objects_;
};

TEST_F(KubeletPodVolumes, ServiceAccountVolume) {
  PodVolumes volumes(objects_);
  PodSpec p = pod(json::array({apiAccess()}));
  ASSERT_TRUE(volumes.setUp(p, dir_).isOk());
  const fs::path v = dir_ / "volumes/kube-api-access-x1y2z";
  EXPECT_EQ(slurp(v / "token"), "robot-token-1");
  EXPECT_EQ(slurp(v / "ca.crt"), "CA PEM");
  EXPECT_EQ(slurp(v / "namespace"), "shop");
  EXPECT_TRUE(volumes.isSetUp("u-1"));
  EXPECT_EQ(objects_.last_audience, "");
}

TEST_F(KubeletPodVolumes, ConfigMapSecretEmptyDirHostPath) {
  PodVolumes volumes(objects_);
  const fs::path host = dir_ / "host/made";
  PodSpec p = pod(json::array(
      {{{"name", "all"}, {"configMap", {{"name", "settings"}}}},
       {{"name", "one"},
        {"configMap", {{"name", "settings"}, {"items", {{{"key", "b.conf"}, {"path", "sub/b"}}}}}}},
       {{"name", "pw"}, {"secret", {{"secretName", "creds"}}}},
       {{"name", "opt"}, {"secret", {{"secretName", "absent"}, {"optional", true}}}},
       {{"name", "scratch"}, {"emptyDir", json::object()}},
       {{"name", "host"},
        {"hostPath", {{"path", host.string()}, {"type", "DirectoryOrCreate"}}}}}));
  ASSERT_TRUE(volumes.setUp(p, dir_).isOk());
  EXPECT_EQ(slurp(dir_ / "volumes/all/a.conf"), "A");
  EXPECT_EQ(slurp(dir_ / "volumes/all/b.conf"), "B");
  EXPECT_EQ(slurp(dir_ / "volumes/one/sub/b"), "B");
  EXPECT_FALSE(fs::exists(dir_ / "volumes/one/a.conf"));
  EXPECT_EQ(slurp(dir_ / "volumes/pw/password"), "s3cret");
  EXPECT_TRUE(fs::is_directory(dir_ / "volumes/opt"));
  EXPECT_TRUE(fs::is_directory(dir_ / "volumes/scratch"));
  EXPECT_TRUE(fs::is_directory(host));
  EXPECT_FALSE(fs::exists(dir_ / "volumes/host")) << "a hostPath is the host path itself";

  VolumeMount m{"host", "/data", "", false};
  EXPECT_EQ(PodVolumes::sourcePath(p, dir_, m), host.string());
  m = {"one", "/etc/app", "sub", true};
  EXPECT_EQ(PodVolumes::sourcePath(p, dir_, m), (dir_ / "volumes/one/sub").string());
}

TEST_F(KubeletPodVolumes, ErrorsNameTheVolume) {
  PodVolumes volumes(objects_);
  Status s = volumes.setUp(
      pod(json::array({{{"name", "cfg"}, {"configMap", {{"name", "missing"}}}}})), dir_);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(),
            "volume \"cfg\" (configMap): configmap \"missing\": configmap shop/missing not found");
  EXPECT_FALSE(volumes.isSetUp("u-1"));

  objects_.token_error = Status(Code::kPermissionDenied, "TokenRequest refused");
  s = volumes.setUp(pod(json::array({apiAccess()})), dir_);
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_EQ(s.message(), "volume \"kube-api-access-x1y2z\" (projected): TokenRequest refused");

  s = volumes.setUp(
      pod(json::array(
          {{{"name", "h"},
            {"hostPath", {{"path", (dir_ / "nope").string()}, {"type", "Directory"}}}}})),
      dir_);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_NE(s.message().find("volume \"h\" (hostPath): hostPath "), std::string::npos)
      << s.message();
}

TEST(KubeletTokenRenewal, AtEightyPercentOrADay) {
  const SystemTime t0 = SystemTime{} + 1000h;
  EXPECT_EQ(tokenRenewalTime(t0, t0 + 3600s), t0 + 2880s);
  EXPECT_EQ(tokenRenewalTime(t0, t0 + 600s), t0 + 480s);
  EXPECT_EQ(tokenRenewalTime(t0, t0 + 24h * 365), t0 + 24h) << "a year-long token: after a day";
}

TEST_F(KubeletPodVolumes, RenewsDueTokens) {
  PodVolumes volumes(objects_);
  PodSpec p = pod(json::array({apiAccess()}));
  ASSERT_TRUE(volumes.setUp(p, dir_).isOk());
  const fs::path token = dir_ / "volumes/kube-api-access-x1y2z/token";
  const SystemTime issued = objects_.now;
  ASSERT_TRUE(volumes.renewTokens(p, issued + 2800s).isOk());
  EXPECT_EQ(objects_.tokens_issued, 1) << "not yet due";
  EXPECT_EQ(slurp(token), "robot-token-1");
  objects_.now = issued + 2900s;
  ASSERT_TRUE(volumes.renewTokens(p, issued + 2900s).isOk());
  EXPECT_EQ(objects_.tokens_issued, 2);
  EXPECT_EQ(slurp(token), "robot-token-2");
  // Due again 80% of the new token's lifetime after it was issued.
  ASSERT_TRUE(volumes.renewTokens(p, issued + 2900s + 2000s).isOk());
  EXPECT_EQ(objects_.tokens_issued, 2);

  objects_.token_error = Status(Code::kUnavailable, "apiserver down");
  Status s = volumes.renewTokens(p, issued + 2900s + 2900s);
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(slurp(token), "robot-token-2") << "the old token stays";
  objects_.token_error = Status::ok();
  ASSERT_TRUE(volumes.renewTokens(p, issued + 2900s + 2900s).isOk());
  EXPECT_EQ(slurp(token), "robot-token-3") << "retried on the next pass";
  volumes.forget("u-1");
  EXPECT_FALSE(volumes.isSetUp("u-1"));
}

}  // namespace
}  // namespace petrel::sandbox
