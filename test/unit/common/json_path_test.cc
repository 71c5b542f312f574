// JSON path reads: present values by key lists and dotted paths, defaults for what is missing,
// null, of another type or behind a step that is not an object; keys with dots; no throwing.
#include "common/json_path.h"

#include <gtest/gtest.h>

namespace petrel {
namespace {

using nlohmann::json;

const json kObject = json::parse(R"({
  "metadata": {"name": "web", "labels": {"kubernetes.io/service-name": "web"}, "uid": 7},
  "spec": {"podCIDRs": ["10.244.1.0/24", 5, "fd00::/64"], "nodeName": null, "ports": [1]},
  "status": "Running"
})");

TEST(JsonPath, ReadsWhatIsThere) {
  EXPECT_EQ(stringAt(kObject, {"metadata", "name"}), "web");
  EXPECT_EQ(stringAt(kObject, {"metadata", "labels", "kubernetes.io/service-name"}), "web");
  EXPECT_EQ(jsonAt(kObject, {"metadata", "uid"}), 7);
  EXPECT_EQ(jsonAt(kObject, {}), kObject);
  EXPECT_EQ(jsonAtDotted(kObject, "metadata.name"), "web");
  EXPECT_EQ(jsonAtDotted(kObject, "status"), "Running");
  EXPECT_EQ(stringsAt(kObject, {"spec", "podCIDRs"}),
            (std::vector<std::string>{"10.244.1.0/24", "fd00::/64"}));  // the 5 is skipped
}

TEST(JsonPath, WhatIsMissingReadsAsNullOrTheDefault) {
  EXPECT_TRUE(jsonAt(kObject, {"metadata", "namespace"}).is_null());
  EXPECT_TRUE(jsonAt(kObject, {"status", "phase"}).is_null());     // a step that is a string
  EXPECT_TRUE(jsonAt(kObject, {"spec", "ports", "0"}).is_null());  // arrays are not walked
  EXPECT_TRUE(jsonAt(json(), {"metadata"}).is_null());             // not an object at all
  EXPECT_TRUE(jsonAtDotted(kObject, "metadata.labels.kubernetes").is_null());
  EXPECT_TRUE(jsonAtDotted(kObject, "metadata..name").is_null());
  EXPECT_EQ(stringAt(kObject, {"spec", "nodeName"}), "");             // null
  EXPECT_EQ(stringAt(kObject, {"metadata", "uid"}, "none"), "none");  // not a string
  EXPECT_EQ(stringAt(kObject, {"nothing"}, "default"), "default");
  EXPECT_TRUE(stringsAt(kObject, {"metadata", "name"}).empty());  // not a list
  EXPECT_TRUE(stringsAt(kObject, {"spec", "missing"}).empty());
}

}  // namespace
}  // namespace petrel
