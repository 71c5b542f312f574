// The Petrel image: scripts/build-image.sh builds it from the build's binaries under a unique tag;
// podman runs `petrel-agent --version` and `petrel version` in it without a network, and its OCI
// labels must name the version, the source revision and the title. The image is removed
// afterwards, also when the test fails; the OCI archive goes to a temp dir.
//
// podman gets a private containers.conf (CONTAINERS_CONF), as in podman_test.cc: runc, cgroupfs
// and default_ulimits this host accepts, and an empty network_config_dir (--network none needs no
// network configuration, and none of the host's is touched).
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "test/e2e/harness.h"

namespace petrel::e2e {
namespace {

std::string firstLine(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// Owns the podman configuration and the image built under a unique tag; removes the image.
class ImageEnv {
 public:
  ImageEnv() : tag_(uniqueName("pe2eimg")), image_("petrel.io/petrel:" + tag_) {
    const auto netDir = dir_ / "net";
    std::filesystem::create_directories(netDir);
    std::ofstream conf(dir_ / "containers.conf");
    conf << podmanEngineConf();
    conf << "[network]\n"
            "network_backend = \"cni\"\n"
         << "network_config_dir = \"" << netDir.string() << "\"\n";
  }

  ~ImageEnv() {
    if (!attempted_) return;
    // The script may have failed before committing: only an image that exists is removed.
    if (podman({"image", "exists", image_}).exitCode != 0) return;
    CmdResult r = podman({"rmi", "-f", image_});
    EXPECT_TRUE(r.ok()) << "podman rmi " << image_ << ": " << r.describe();
  }

  // scripts/build-image.sh --tag <unique> --archive <temp dir> <bin dir>.
  CmdResult build() {
    attempted_ = true;
    RunOptions options;
    options.timeout = 300s;  // strips and tars ~60 MB; slow on a busy 2-core machine
    return run({(sourceDir() / "scripts/build-image.sh").string(), "--tag", tag_, "--archive",
                archive().string(), binDir().string()},
               options);
  }

  // `podman <args>` with the private configuration.
  CmdResult podman(const std::vector<std::string>& args, Millis timeout = 90s) const {
    std::vector<std::string> argv = {"podman"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions options;
    options.timeout = timeout;
    options.env = {{"CONTAINERS_CONF", (dir_ / "containers.conf").string()}};
    return run(argv, options);
  }

  // `podman run --rm --network none <image> <cmd...>`.
  CmdResult runInImage(const std::vector<std::string>& cmd) const {
    std::vector<std::string> args = {"run", "--rm", "--network", "none", image_};
    args.insert(args.end(), cmd.begin(), cmd.end());
    return podman(args);
  }

  std::filesystem::path archive() const { return dir_ / "petrel-image.oci.tar"; }
  const std::string& image() const { return image_; }

 private:
  TempDir dir_{"pe2eimage"};
  std::string tag_;
  std::string image_;
  bool attempted_ = false;
};

TEST(ImageTest, BuiltImageRunsTheBinariesAndCarriesItsLabels) {
  ASSERT_TRUE(requireRoot());
  for (const char* tool : {"podman", "buildah", "runc", "ldd", "strip", "tar"}) {
    ASSERT_TRUE(requireTool(tool));
  }
  for (const char* bin : {"petrel-agent", "petrel-operator", "petrel-cni", "petrel"}) {
    ASSERT_TRUE(requireFile(binDir() / bin, "build it with `ninja -C build`"));
  }

  // What the build's own CLI says: "petrel 0.1.0 (commit bd66826)".
  CmdResult hostVersion = run({(binDir() / "petrel").string(), "version"});
  ASSERT_TRUE(hostVersion.ok()) << "petrel version: " << hostVersion.describe();
  std::istringstream words(hostVersion.out);
  std::string program;
  std::string version;
  words >> program >> version;
  ASSERT_EQ(program, "petrel") << hostVersion.out;
  ASSERT_FALSE(version.empty()) << hostVersion.out;

  ImageEnv env;
  CmdResult build = env.build();
  ASSERT_TRUE(build.ok()) << "scripts/build-image.sh: " << build.describe();
  EXPECT_NE(build.out.find("== done: " + env.image()), std::string::npos) << build.out;

  // Both binaries run in the image (FROM scratch: only the libraries the script collected).
  CmdResult cli = env.runInImage({"petrel", "version"});
  EXPECT_TRUE(cli.ok()) << "podman run ... petrel version: " << cli.describe();
  EXPECT_EQ(firstLine(cli.out), firstLine(hostVersion.out));
  CmdResult agent = env.runInImage({"petrel-agent", "--version"});
  EXPECT_TRUE(agent.ok()) << "podman run ... petrel-agent --version: " << agent.describe();
  EXPECT_EQ(agent.out.rfind(version + " ", 0), 0u)
      << "petrel-agent --version does not start with " << version << ": " << agent.out;

  // OCI labels: version, title, and the revision of the checkout the script ran in.
  CmdResult inspect = env.podman({"image", "inspect", "--format", "{{json .Labels}}", env.image()});
  ASSERT_TRUE(inspect.ok()) << "podman image inspect: " << inspect.describe();
  nlohmann::json labels = nlohmann::json::parse(inspect.out, nullptr, false);
  ASSERT_TRUE(labels.is_object()) << inspect.out;
  EXPECT_EQ(labels.value("org.opencontainers.image.version", ""), version) << labels.dump(2);
  EXPECT_EQ(labels.value("org.opencontainers.image.title", ""), "petrel") << labels.dump(2);
  CmdResult head = run({"git", "-C", sourceDir().string(), "rev-parse", "HEAD"});
  if (head.ok()) {
    EXPECT_EQ(labels.value("org.opencontainers.image.revision", ""), firstLine(head.out))
        << labels.dump(2);
  } else {
    EXPECT_FALSE(labels.contains("org.opencontainers.image.revision")) << labels.dump(2);
  }

  // The OCI archive for `podman load` elsewhere.
  CmdResult list = run({"tar", "-tf", env.archive().string()});
  ASSERT_TRUE(list.ok()) << "tar -tf " << env.archive() << ": " << list.describe();
  EXPECT_NE(list.out.find("oci-layout"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("index.json"), std::string::npos) << list.out;
}

}  // namespace
}  // namespace petrel::e2e
