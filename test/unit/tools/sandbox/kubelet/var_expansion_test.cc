// expandVars: the cases of Kubernetes' own expansion tests ($$ escapes, unknown and unclosed
// references left as written, references at the edges of the input).
#include <gtest/gtest.h>

#include <map>

#include "tools/sandbox/kubelet/var_expansion.h"

namespace petrel::sandbox {
namespace {

std::string expand(std::string_view in) {
  static const std::map<std::string, std::string, std::less<>> vars = {
      {"VAR_A", "A"}, {"VAR_B", "B"}, {"VAR_C", "C"}, {"VAR_REF", "$(VAR_A)"}, {"VAR_EMPTY", ""}};
  return expandVars(in, [](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

TEST(KubeletVarExpansion, ReplacesKnownReferences) {
  EXPECT_EQ(expand("$(VAR_A)"), "A");
  EXPECT_EQ(expand("___$(VAR_B)___"), "___B___");
  EXPECT_EQ(expand("$(VAR_A)-$(VAR_B)-$(VAR_C)"), "A-B-C");
  EXPECT_EQ(expand("$(VAR_A)$(VAR_B)"), "AB");
  EXPECT_EQ(expand("x$(VAR_EMPTY)y"), "xy");
  EXPECT_EQ(expand("no references"), "no references");
  EXPECT_EQ(expand(""), "");
}

TEST(KubeletVarExpansion, ValuesAreNotExpandedAgain) {
  EXPECT_EQ(expand("$(VAR_REF)"), "$(VAR_A)");
}

TEST(KubeletVarExpansion, DollarDollarEscapes) {
  EXPECT_EQ(expand("$$(VAR_A)"), "$(VAR_A)");
  EXPECT_EQ(expand("$$$(VAR_A)"), "$A");
  EXPECT_EQ(expand("$$$$(VAR_A)"), "$$(VAR_A)");
  EXPECT_EQ(expand("f000-$$VAR_A"), "f000-$VAR_A");
}

TEST(KubeletVarExpansion, UnknownReferencesStayAsWritten) {
  EXPECT_EQ(expand("$(UNKNOWN)"), "$(UNKNOWN)");
  EXPECT_EQ(expand("$(VAR_A)$(UNKNOWN)"), "A$(UNKNOWN)");
  EXPECT_EQ(expand("$()"), "$()");
}

TEST(KubeletVarExpansion, OtherDollarsAndUnclosedReferencesStay) {
  EXPECT_EQ(expand("$VAR_A"), "$VAR_A");
  EXPECT_EQ(expand("${VAR_A}"), "${VAR_A}");
  EXPECT_EQ(expand("$(VAR_A"), "$(VAR_A");
  EXPECT_EQ(expand("$(VAR_A$(VAR_B)"), "$(VAR_A$(VAR_B)") << "the name runs to the first )";
  EXPECT_EQ(expand("$("), "$(");
  EXPECT_EQ(expand("ends with $"), "ends with $");
  EXPECT_EQ(expand("$"), "$");
  EXPECT_EQ(expand("$(VAR_A)$"), "A$");
}

}  // namespace
}  // namespace petrel::sandbox
