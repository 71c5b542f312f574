// CniError: an error as the CNI spec reports it (code, msg, details), and the spec's codes.
#pragma once

#include <string>

namespace petrel::cni {

// Error codes from the CNI 1.1.0 spec ("Error" section); 999 is the conventional generic code
// libcni-based plugins use for internal failures.
enum ErrorCode : int {
  kErrIncompatibleVersion = 1,
  kErrUnsupportedField = 2,
  kErrUnknownContainer = 3,
  kErrInvalidEnv = 4,
  kErrIo = 5,
  kErrDecode = 6,
  kErrInvalidConfig = 7,
  kErrTryAgainLater = 11,
  kErrPluginNotAvailable = 50,
  kErrLimitedConnectivity = 51,
  kErrInternal = 999,
};

struct CniError {
  int code = kErrInternal;
  std::string msg;      // what happened and what to do
  std::string details;  // lower-level detail (e.g. the errno text), may be empty
};

}  // namespace petrel::cni

#include <optional>
#include <utility>

namespace petrel::cni {

// A value or a CniError; the CNI code survives up to main() unchanged.
template <typename T>
class CniResult {
 public:
  CniResult(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  CniResult(CniError error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return value_.has_value(); }
  const CniError& error() const { return *error_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  std::optional<CniError> error_;
};

}  // namespace petrel::cni
