// Status helpers: names of codes, errno mapping.
#include "common/status.h"

namespace petrel {

const char* codeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case Code::kNotFound:
      return "NOT_FOUND";
    case Code::kAlreadyExists:
      return "ALREADY_EXISTS";
    case Code::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case Code::kUnavailable:
      return "UNAVAILABLE";
    case Code::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case Code::kPermissionDenied:
      return "PERMISSION_DENIED";
    case Code::kInternal:
      return "INTERNAL";
  }
  return "UNKNOWN";
}

std::string Status::toString() const {
  if (isOk()) return "OK";
  return fmt::format("{}: {}", codeName(code_), message_);
}

Status Status::withContext(const std::string& context) const {
  if (isOk()) return *this;
  return Status(code_, context + ": " + message_);
}

Status errnoStatus(int err, const std::string& what) {
  Code code = Code::kInternal;
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ESRCH:
      code = Code::kNotFound;
      break;
    case EEXIST:
      code = Code::kAlreadyExists;
      break;
    case EINVAL:
    case ERANGE:
      code = Code::kInvalidArgument;
      break;
    case ENOSPC:
    case ENOMEM:
    case E2BIG:
      code = Code::kResourceExhausted;
      break;
    case EPERM:
    case EACCES:
      code = Code::kPermissionDenied;
      break;
    case EAGAIN:
    case EBUSY:
    case ECONNREFUSED:
      code = Code::kUnavailable;
      break;
    default:
      break;
  }
  return Status(code, fmt::format("{}: {}", what, std::strerror(err)));
}

}  // namespace petrel
