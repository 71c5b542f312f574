// Handler: the API server's request handling, independent of the HTTP library. Authenticates
// the bearer token, serves discovery, and runs the verbs (list, watch, get, create, update,
// patch, delete, deletecollection, status subresource) against the store. Never throws.
#pragma once

#include <string>

#include "tools/sandbox/apiserver/admission.h"
#include "tools/sandbox/apiserver/api_error.h"
#include "tools/sandbox/apiserver/registry.h"
#include "tools/sandbox/apiserver/request.h"
#include "tools/sandbox/apiserver/router.h"
#include "tools/sandbox/apiserver/store.h"

namespace petrel::apiserver {

struct HandlerOptions {
  std::string token;  // required bearer token; empty = no authentication (tests)
  std::string serviceCidr = "10.96.0.0/16";
};

class Handler {
 public:
  Handler(ObjectStore& store, Registry& registry, HandlerOptions options);

  // Creates the default namespaces when absent and installs the types of stored CRDs (after a
  // snapshot was restored).
  void bootstrap();

  Response handle(const Request& request);

  // One newline-terminated watch event line.
  std::string encodeEvent(const WatchStream& stream, const WatchEvent& event) const;
  std::string encodeBookmark(const WatchStream& stream, uint64_t rv) const;
  // The admission layer (tests inspect its Service allocations).
  Admission& admission() { return admission_; }

  // Unregisters a watch whose stream ended.
  void releaseWatch(const std::shared_ptr<Watcher>& w) { store_.unwatch(w); }

 private:
  Response dispatch(const Request& req);
  Response discovery(const Request& req, const std::vector<std::string>& segs);
  Response list(const Request& req, const ResourceType& type, const ResourcePath& rp);
  Response watch(const Request& req, const ResourceType& type, const ResourcePath& rp);
  Response get(const Request& req, const ResourceType& type, const ResourcePath& rp);
  Response create(const Request& req, const ResourceType& type, const ResourcePath& rp);
  Response update(const Request& req, const ResourceType& type, const ResourcePath& rp);
  Response patch(const Request& req, const ResourceType& type, const ResourcePath& rp);
  Response remove(const Request& req, const ResourceType& type, const ResourcePath& rp);
  Response removeCollection(const Request& req, const ResourceType& type, const ResourcePath& rp);
  // POST pods/{name}/binding: sets spec.nodeName of an unbound pod (201 Status Success).
  Response bind(const Request& req, const ResourceType& type, const ResourcePath& rp);
  // The grace period a delete asks for (DeleteOptions.gracePeriodSeconds, else the query
  // parameter); nullopt when it names none.
  static Result<std::optional<int64_t>> requestedGracePeriod(const Request& req,
                                                             const nlohmann::json& opts);
  // Graceful pod deletion: sets metadata.deletionTimestamp (now + grace) and
  // deletionGracePeriodSeconds and returns the pod, or returns it unchanged when it is already
  // terminating sooner; nullopt when the pod must be removed at once (grace 0, never bound,
  // finished). Errors: kNotFound, or what `precheck` refused.
  Result<std::optional<nlohmann::json>> markPodDeleting(
      const std::string& ns, const std::string& name, std::optional<int64_t> requested,
      const std::function<Status(const nlohmann::json&)>& precheck);
  // Shared tail of update and patch: `desired` replaces the stored object in one atomic step.
  // With `dryRun`, builds against the current object and answers without storing.
  Response commitUpdate(
      const ResourceType& type, const ResourcePath& rp, bool dryRun,
      const std::function<Result<nlohmann::json>(const nlohmann::json&, std::optional<ApiError>&)>&
          build);

  Response objectResponse(int code, const ResourceType& type, nlohmann::json obj) const;
  Response errorResponse(const ApiError& e) const;
  ApiError storeError(const Status& s, const ResourceType& type, const std::string& name) const;

  ObjectStore& store_;
  Registry& registry_;
  HandlerOptions options_;
  Admission admission_;
};

}  // namespace petrel::apiserver
