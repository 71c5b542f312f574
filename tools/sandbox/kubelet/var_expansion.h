// $(VAR) references in env values, command and args, expanded exactly as Kubernetes does
// (third_party/forked/golang/expansion): $(NAME) is replaced by NAME's value, $$ is a literal $,
// and a reference to an unknown name, an unclosed "$(" or any other "$x" is left as written.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace petrel::sandbox {

// The value of a variable, or nullopt when it is not defined.
using VarLookup = std::function<std::optional<std::string>(std::string_view name)>;

std::string expandVars(std::string_view input, const VarLookup& lookup);

}  // namespace petrel::sandbox
