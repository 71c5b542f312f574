// Status and Result<T>: errors as values. A Status says what failed and on which object, e.g.
// "update petrel_endpoints: ENOSPC". No exceptions on the reconcile or packet paths.
#pragma once

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace petrel {

// Coarse error classes; the gRPC edge and the CNI binary map them to their own codes.
enum class Code {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kResourceExhausted,
  kUnavailable,
  kFailedPrecondition,
  kPermissionDenied,
  kInternal,
};

const char* codeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  bool isOk() const { return code_ == Code::kOk; }
  explicit operator bool() const { return isOk(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NOT_FOUND: endpoint abc/eth0"
  std::string toString() const;
  // Returns a copy with "context: " prefixed to the message.
  Status withContext(const std::string& context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename... Args>
Status makeError(Code code, fmt::format_string<Args...> f, Args&&... args) {
  return Status(code, fmt::format(f, std::forward<Args>(args)...));
}

// An errno-carrying error: "what: strerror(err)"; the code is derived from the errno.
Status errnoStatus(int err, const std::string& what);

// Result<T> holds a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool isOk() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return isOk(); }
  const Status& status() const {
    static const Status kOk;
    return isOk() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace petrel

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define PETREL_RETURN_IF_ERROR(expr)                   \
  do {                                                 \
    ::petrel::Status petrel_status_ = (expr);          \
    if (!petrel_status_.isOk()) return petrel_status_; \
  } while (0)
