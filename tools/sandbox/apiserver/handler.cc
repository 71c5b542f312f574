// Handler: authentication, discovery and the verbs.
#include "tools/sandbox/apiserver/handler.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>

#include "tools/sandbox/apiserver/openapi.h"
#include "tools/sandbox/apiserver/patch.h"

namespace petrel::apiserver {

using nlohmann::json;

namespace {

constexpr size_t kMaxBodyBytes = 8 * 1024 * 1024;
constexpr size_t kMaxNesting = 100;

std::string str(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return "";
  return obj[key].get<std::string>();
}

std::string metaStr(const json& obj, const char* key) {
  return obj.is_object() && obj.contains("metadata") ? str(obj["metadata"], key) : "";
}

Response jsonResponse(int code, const json& body) {
  Response r;
  r.status = code;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

std::string hexEncode(const std::string& s) {
  static const char* h = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += h[c >> 4];
    out += h[c & 15];
  }
  return out;
}

std::optional<std::string> hexDecode(const std::string& s) {
  if (s.size() % 2) return std::nullopt;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); i += 2) {
    int a = val(s[i]), b = val(s[i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    out += static_cast<char>(a * 16 + b);
  }
  return out;
}

std::optional<uint64_t> parseUint(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// Deepest [ / { nesting outside strings; the JSON helpers recurse, so deep bodies are refused.
size_t nestingDepth(const std::string& text) {
  size_t depth = 0, maxDepth = 0;
  bool inString = false, escaped = false;
  for (char c : text) {
    if (inString) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        inString = false;
      }
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      maxDepth = std::max(maxDepth, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return maxDepth;
}

Result<json> parseBody(const std::string& body) {
  if (body.size() > kMaxBodyBytes) {
    return Status(Code::kInvalidArgument, "the request body is larger than 8 MiB");
  }
  if (body.empty()) return Status(Code::kInvalidArgument, "the request body is empty");
  if (nestingDepth(body) > kMaxNesting) {
    return Status(Code::kInvalidArgument, "the request body is nested deeper than " +
                                              std::to_string(kMaxNesting) + " levels");
  }
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    // Find where it broke for a precise message.
    try {
      json discarded = json::parse(body);
      (void)discarded;
    } catch (const json::parse_error& e) {
      return Status(Code::kInvalidArgument, "error decoding request body: invalid JSON at byte " +
                                                std::to_string(e.byte) + ": " + e.what());
    } catch (...) {
    }
    return Status(Code::kInvalidArgument, "error decoding request body: invalid JSON");
  }
  return j;
}

// Bodies must be JSON; kubectl's typed "create namespace/service/..." commands send protobuf,
// which a real apiserver accepts and this one answers with a precise 415.
std::optional<ApiError> unsupportedBodyType(const Request& req) {
  std::string ct = req.header("content-type");
  if (ct.empty() || ct.rfind("application/json", 0) == 0 || ct.rfind("*/*", 0) == 0) {
    return std::nullopt;
  }
  return ApiError{415,
                  "UnsupportedMediaType",
                  "the sandbox API server reads JSON request bodies only, not '" + ct +
                      "'; use kubectl create -f / apply -f with a manifest",
                  "",
                  "",
                  ""};
}

Result<WatchFilter> filterFor(const Request& req, const ResourceType& type,
                              const ResourcePath& rp) {
  WatchFilter filter;
  filter.key = type.storageKey();
  filter.ns = rp.ns;
  auto ls = LabelSelector::parse(req.param("labelSelector"));
  if (!ls) return ls.status();
  auto fs = FieldSelector::parse(req.param("fieldSelector"), type.allowedFields());
  if (!fs) return fs.status();
  filter.labels = std::move(*ls);
  filter.fields = std::move(*fs);
  return filter;
}

// The dryRun query parameter: "All" (validate and answer, store nothing) or absent.
Result<bool> dryRunOf(const Request& req) {
  std::string v = req.param("dryRun");
  if (v.empty()) return false;
  if (v == "All") return true;
  return Status(Code::kInvalidArgument,
                "dryRun: Unsupported value: \"" + v + "\": supported values: \"All\"");
}

const std::vector<std::string> kDefaultNamespaces = {"default", "kube-system", "kube-public",
                                                     "kube-node-lease"};

}  // namespace

std::string Request::header(const std::string& lowerName) const {
  auto it = headers.find(lowerName);
  return it == headers.end() ? "" : it->second;
}

std::string Request::param(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? "" : it->second;
}

Handler::Handler(ObjectStore& store, Registry& registry, HandlerOptions options)
    : store_(store),
      registry_(registry),
      options_(std::move(options)),
      admission_(store, options_.serviceCidr) {}

void Handler::bootstrap() {
  for (const auto& crd : store_.all("customresourcedefinitions.apiextensions.k8s.io")) {
    (void)registry_.installCrd(crd);
  }
  auto nsType = registry_.find("", "v1", "namespaces");
  for (const auto& ns : kDefaultNamespaces) {
    if (store_.get("namespaces", "", ns)) continue;
    json obj = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
    if (!admission_.prepareCreate(*nsType, "", obj)) (void)store_.create("namespaces", obj);
  }
}

Response Handler::errorResponse(const ApiError& e) const {
  return jsonResponse(e.code, e.toStatus());
}

ApiError Handler::storeError(const Status& s, const ResourceType& type,
                             const std::string& name) const {
  switch (s.code()) {
    case Code::kNotFound:
      return notFound(type.plural, type.group, name);
    case Code::kAlreadyExists:
      return alreadyExists(type.plural, type.group, name);
    case Code::kFailedPrecondition:
      return conflict(type.plural, type.group, name, s.message());
    case Code::kUnavailable:
      return expired(s.message());
    case Code::kInvalidArgument:
      return badRequest(s.message());
    default:
      return ApiError{500, "InternalError", s.message(), type.plural, name, type.group};
  }
}

Response Handler::objectResponse(int code, const ResourceType& type, json obj) const {
  if (obj.is_object()) {
    obj["apiVersion"] = type.apiVersion();
    obj["kind"] = type.kind;
  }
  return jsonResponse(code, obj);
}

Response Handler::handle(const Request& req) {
  try {
    if (!options_.token.empty()) {
      bool open = req.path == "/healthz" || req.path == "/livez" || req.path == "/readyz";
      if (!open && req.header("authorization") != "Bearer " + options_.token) {
        return errorResponse(ApiError{401, "Unauthorized", "Unauthorized", "", "", ""});
      }
    }
    return dispatch(req);
  } catch (const std::exception& e) {
    return errorResponse(ApiError{500, "InternalError",
                                  std::string("an error on the server: ") + e.what(), "", "", ""});
  } catch (...) {
    return errorResponse(
        ApiError{500, "InternalError", "an unknown error on the server", "", "", ""});
  }
}

Response Handler::dispatch(const Request& req) {
  auto segs = splitPath(req.path);
  if (!segs) return errorResponse(badRequest("invalid path"));
  auto rp = parseResourcePath(req.path);
  if (!rp) return discovery(req, *segs);

  auto type = registry_.find(rp->group, rp->version, rp->resource);
  if (!type) {
    return errorResponse(
        ApiError{404, "NotFound", "the server could not find the requested resource", "", "", ""});
  }
  if (!rp->ns.empty() && !type->namespaced) {
    return errorResponse(
        ApiError{404, "NotFound", "the server could not find the requested resource", "", "", ""});
  }
  const bool binding =
      rp->subresource == "binding" && type->group.empty() && type->plural == "pods";
  if (!rp->subresource.empty() && !(rp->subresource == "status" && type->hasStatus) && !binding) {
    return errorResponse(
        ApiError{404, "NotFound", "the server could not find the requested resource", "", "", ""});
  }
  const std::string& m = req.method;
  if (rp->name.empty()) {
    if (m == "GET") {
      std::string w = req.param("watch");
      if (w == "1" || w == "true") return watch(req, *type, *rp);
      return list(req, *type, *rp);
    }
    if (m == "POST") {
      if (type->namespaced && rp->ns.empty()) {
        return errorResponse(
            ApiError{405, "MethodNotAllowed",
                     "create of a namespaced resource needs a namespace in the URL", "", "", ""});
      }
      return create(req, *type, *rp);
    }
    if (m == "DELETE") return removeCollection(req, *type, *rp);
  } else {
    if (type->namespaced && rp->ns.empty()) {
      return errorResponse(ApiError{
          404, "NotFound", "the server could not find the requested resource", "", "", ""});
    }
    if (binding) {
      if (m == "POST") return bind(req, *type, *rp);
    } else if (m == "GET") {
      return get(req, *type, *rp);
    }
    if (binding) {
      return errorResponse(
          ApiError{405, "MethodNotAllowed", "pods/binding only accepts POST (create)", "", "", ""});
    }
    if (m == "PUT") return update(req, *type, *rp);
    if (m == "PATCH") return patch(req, *type, *rp);
    if (m == "DELETE" && rp->subresource.empty()) return remove(req, *type, *rp);
  }
  return errorResponse(ApiError{405, "MethodNotAllowed",
                                "the server does not allow this method on the requested resource",
                                "", "", ""});
}

Response Handler::discovery(const Request& req, const std::vector<std::string>& segs) {
  auto notFoundResp = [&] {
    return errorResponse(
        ApiError{404, "NotFound", "the server could not find the requested resource", "", "", ""});
  };
  if (req.method != "GET") {
    return errorResponse(ApiError{405, "MethodNotAllowed",
                                  "the server does not allow this method on the requested resource",
                                  "", "", ""});
  }
  if (segs.size() == 1 && (segs[0] == "healthz" || segs[0] == "livez" || segs[0] == "readyz")) {
    Response r;
    r.contentType = "text/plain";
    r.body = "ok";
    return r;
  }
  if (segs.size() == 1 && segs[0] == "version") {
    return jsonResponse(200, {{"major", "1"},
                              {"minor", "32"},
                              {"gitVersion", "v1.32.0-petrel"},
                              {"gitCommit", "petrel-sandbox"},
                              {"gitTreeState", "clean"},
                              {"buildDate", "2026-01-01T00:00:00Z"},
                              {"goVersion", "none"},
                              {"compiler", "gc"},
                              {"platform", "linux/amd64"}});
  }
  if (segs.size() >= 2 && segs[0] == "openapi" && segs[1] == "v3") {
    if (segs.size() == 2) return jsonResponse(200, openapiRoot(registry_));
    std::optional<json> doc;
    if (segs.size() == 4 && segs[2] == "api") doc = openapiGroupVersion(registry_, "", segs[3]);
    if (segs.size() == 5 && segs[2] == "apis")
      doc = openapiGroupVersion(registry_, segs[3], segs[4]);
    return doc ? jsonResponse(200, *doc) : notFoundResp();
  }
  if (segs.size() == 1 && segs[0] == "api") return jsonResponse(200, registry_.apiVersions());
  if (segs.size() == 2 && segs[0] == "api") {
    auto l = registry_.resourceList("", segs[1]);
    return l ? jsonResponse(200, *l) : notFoundResp();
  }
  if (segs.size() == 1 && segs[0] == "apis") return jsonResponse(200, registry_.apiGroupList());
  if (segs.size() == 2 && segs[0] == "apis") {
    auto g = registry_.apiGroup(segs[1]);
    return g ? jsonResponse(200, *g) : notFoundResp();
  }
  if (segs.size() == 3 && segs[0] == "apis") {
    auto l = registry_.resourceList(segs[1], segs[2]);
    return l ? jsonResponse(200, *l) : notFoundResp();
  }
  return notFoundResp();
}

Response Handler::list(const Request& req, const ResourceType& type, const ResourcePath& rp) {
  auto parsed = filterFor(req, type, rp);
  if (!parsed) return errorResponse(badRequest(parsed.status().message()));
  WatchFilter filter = std::move(*parsed);

  size_t limit = 0;
  if (std::string l = req.param("limit"); !l.empty()) {
    auto v = parseUint(l);
    if (!v)
      return errorResponse(
          badRequest("limit: Invalid value: \"" + l + "\": must be a non-negative integer"));
    limit = static_cast<size_t>(*v);
  }
  std::string startAfter;
  std::optional<uint64_t> listRv;
  if (std::string c = req.param("continue"); !c.empty()) {
    auto raw = hexDecode(c);
    json tok = raw ? json::parse(*raw, nullptr, false) : json();
    if (!tok.is_object() || !tok.contains("rv") || !tok["rv"].is_number_unsigned() ||
        !tok.contains("start") || !tok["start"].is_string()) {
      return errorResponse(badRequest("continue key is not valid"));
    }
    listRv = tok["rv"].get<uint64_t>();
    startAfter = tok["start"].get<std::string>();
    if (*listRv < store_.compactedRv()) {
      return errorResponse(
          expired("The provided continue parameter is too old to display a "
                  "consistent list result. You can start a new list without the "
                  "continue parameter."));
    }
  }
  auto res = store_.list(filter, limit, startAfter);
  uint64_t rv = listRv.value_or(res.rv);
  json meta = {{"resourceVersion", std::to_string(rv)}};
  if (!res.lastKey.empty()) {
    meta["continue"] = hexEncode(json{{"rv", rv}, {"start", res.lastKey}}.dump());
    meta["remainingItemCount"] = res.remaining;
  }
  for (auto& o : res.items) {
    o["apiVersion"] = type.apiVersion();
    o["kind"] = type.kind;
  }
  if (wantsTable(req.header("accept"))) {
    return jsonResponse(
        200, toTable(type, res.items, meta, includeObjectFromQuery(req.param("includeObject")),
                     std::chrono::system_clock::now()));
  }
  // Move the items into the document: a list of every Service is megabytes of JSON.
  json items = json::array();
  items.get_ref<json::array_t&>().reserve(res.items.size());
  for (auto& o : res.items) items.push_back(std::move(o));
  return jsonResponse(200, {{"kind", type.kind + "List"},
                            {"apiVersion", type.apiVersion()},
                            {"metadata", std::move(meta)},
                            {"items", std::move(items)}});
}

Response Handler::watch(const Request& req, const ResourceType& type, const ResourcePath& rp) {
  auto parsed = filterFor(req, type, rp);
  if (!parsed) return errorResponse(badRequest(parsed.status().message()));
  WatchFilter filter = std::move(*parsed);

  std::optional<uint64_t> from;
  if (std::string rv = req.param("resourceVersion"); !rv.empty() && rv != "0") {
    from = parseUint(rv);
    if (!from) {
      return errorResponse(badRequest("resourceVersion: Invalid value: \"" + rv +
                                      "\": must be an unsigned integer"));
    }
  }
  WatchStream ws;
  ws.type = type;
  std::string bm = req.param("allowWatchBookmarks");
  ws.bookmarks = bm == "1" || bm == "true";
  if (std::string t = req.param("timeoutSeconds"); !t.empty()) {
    auto v = parseUint(t);
    if (!v) return errorResponse(badRequest("timeoutSeconds: Invalid value: \"" + t + "\""));
    ws.timeout = std::chrono::seconds(std::min<uint64_t>(*v, 24 * 3600));
  }
  ws.table = wantsTable(req.header("accept"));
  ws.include = includeObjectFromQuery(req.param("includeObject"));
  auto w = store_.watch(std::move(filter), from);
  if (!w) {
    ws.initialError = storeError(w.status(), type, "").toStatus();
  } else {
    ws.watcher = *w;
  }
  Response r;
  r.watch = std::move(ws);
  return r;
}

std::string Handler::encodeEvent(const WatchStream& stream, const WatchEvent& event) const {
  json obj = event.object;
  if (obj.is_object()) {
    obj["apiVersion"] = stream.type.apiVersion();
    obj["kind"] = stream.type.kind;
  }
  if (stream.table) {
    obj = toTable(stream.type, {obj}, {{"resourceVersion", std::to_string(event.rv)}},
                  stream.include, std::chrono::system_clock::now());
  }
  return json{{"type", event.type}, {"object", obj}}.dump(-1, ' ', false,
                                                          json::error_handler_t::replace) +
         "\n";
}

std::string Handler::encodeBookmark(const WatchStream& stream, uint64_t rv) const {
  return json{{"type", "BOOKMARK"},
              {"object",
               {{"kind", stream.type.kind},
                {"apiVersion", stream.type.apiVersion()},
                {"metadata", {{"resourceVersion", std::to_string(rv)}}}}}}
             .dump() +
         "\n";
}

Response Handler::get(const Request& req, const ResourceType& type, const ResourcePath& rp) {
  auto obj = store_.get(type.storageKey(), rp.ns, rp.name);
  if (!obj) return errorResponse(notFound(type.plural, type.group, rp.name));
  if (wantsTable(req.header("accept"))) {
    (*obj)["apiVersion"] = type.apiVersion();
    (*obj)["kind"] = type.kind;
    return jsonResponse(
        200, toTable(type, {*obj}, {{"resourceVersion", metaStr(*obj, "resourceVersion")}},
                     includeObjectFromQuery(req.param("includeObject")),
                     std::chrono::system_clock::now()));
  }
  return objectResponse(200, type, std::move(*obj));
}

Response Handler::create(const Request& req, const ResourceType& type, const ResourcePath& rp) {
  if (auto e = unsupportedBodyType(req)) return errorResponse(*e);
  auto body = parseBody(req.body);
  if (!body) return errorResponse(badRequest(body.status().message()));
  json obj = std::move(*body);
  auto dry = dryRunOf(req);
  if (!dry) return errorResponse(badRequest(dry.status().message()));
  if (auto e = admission_.checkShape(type, obj)) return errorResponse(*e);
  if (type.namespaced && !store_.get("namespaces", "", rp.ns)) {
    return errorResponse(notFound("namespaces", "", rp.ns));
  }
  auto lock = admission_.lockAllocations();
  if (auto e = admission_.prepareCreate(type, rp.ns, obj)) return errorResponse(*e);
  if (type.group == "apiextensions.k8s.io") {
    auto types = Registry::typesFromCrd(obj);
    for (const auto& t : types ? *types : std::vector<ResourceType>{}) {
      auto existing = registry_.find(t.group, t.version, t.plural);
      if (existing && !existing->fromCrd) {
        return errorResponse(invalid(type.kind, type.group, metaStr(obj, "name"),
                                     "spec.group: " + t.group + " already serves " + t.plural));
      }
    }
  }
  std::string name = metaStr(obj, "name");
  if (*dry) {
    // Answer as if created; the lock's end frees whatever admission allocated.
    if (store_.get(type.storageKey(), rp.ns, name)) {
      return errorResponse(alreadyExists(type.plural, type.group, name));
    }
    return objectResponse(201, type, std::move(obj));
  }
  auto created = store_.create(type.storageKey(), std::move(obj));
  if (!created) return errorResponse(storeError(created.status(), type, name));
  if (type.group == "apiextensions.k8s.io") (void)registry_.installCrd(*created);
  return objectResponse(201, type, std::move(*created));
}

Response Handler::commitUpdate(
    const ResourceType& type, const ResourcePath& rp, bool dryRun,
    const std::function<Result<json>(const json&, std::optional<ApiError>&)>& build) {
  std::optional<ApiError> err;
  auto lock = admission_.lockAllocations();
  if (dryRun) {
    auto current = store_.get(type.storageKey(), rp.ns, rp.name);
    if (!current) return errorResponse(notFound(type.plural, type.group, rp.name));
    auto next = build(*current, err);
    if (!next) return errorResponse(err ? *err : storeError(next.status(), type, rp.name));
    (*next)["metadata"]["name"] = rp.name;
    if (!rp.ns.empty()) (*next)["metadata"]["namespace"] = rp.ns;
    return objectResponse(200, type, std::move(*next));
  }
  auto updated = store_.update(type.storageKey(), rp.ns, rp.name,
                               [&](const json& current) { return build(current, err); });
  if (!updated) {
    return errorResponse(err ? *err : storeError(updated.status(), type, rp.name));
  }
  if (type.group == "apiextensions.k8s.io") (void)registry_.installCrd(*updated);
  return objectResponse(200, type, std::move(*updated));
}

namespace {
constexpr const char* kModified =
    "the object has been modified; please apply your changes to the latest version and try again";
}

Response Handler::update(const Request& req, const ResourceType& type, const ResourcePath& rp) {
  if (auto e = unsupportedBodyType(req)) return errorResponse(*e);
  auto body = parseBody(req.body);
  if (!body) return errorResponse(badRequest(body.status().message()));
  json desired = std::move(*body);
  if (auto e = admission_.checkShape(type, desired)) return errorResponse(*e);
  std::string bodyName = metaStr(desired, "name");
  if (bodyName != rp.name) {
    return errorResponse(badRequest("the name of the object (" + bodyName +
                                    ") does not match the name on the URL (" + rp.name + ")"));
  }
  std::string bodyNs = metaStr(desired, "namespace");
  if (type.namespaced && !bodyNs.empty() && bodyNs != rp.ns) {
    return errorResponse(
        badRequest("the namespace of the provided object does not match the "
                   "namespace sent on the request"));
  }
  bool statusOnly = rp.subresource == "status";
  auto dry = dryRunOf(req);
  if (!dry) return errorResponse(badRequest(dry.status().message()));
  return commitUpdate(type, rp, *dry,
                      [&](const json& current, std::optional<ApiError>& err) -> Result<json> {
                        std::string want = metaStr(desired, "resourceVersion");
                        if (!want.empty() && want != metaStr(current, "resourceVersion")) {
                          err = conflict(type.plural, type.group, rp.name, kModified);
                          return Status(Code::kFailedPrecondition, kModified);
                        }
                        std::string uid = metaStr(desired, "uid");
                        if (!uid.empty() && uid != metaStr(current, "uid")) {
                          err = conflict(type.plural, type.group, rp.name,
                                         "Precondition failed: UID in precondition: " + uid +
                                             ", UID in object meta: " + metaStr(current, "uid"));
                          return Status(Code::kFailedPrecondition, "uid");
                        }
                        json next = desired;
                        if (auto e = admission_.prepareUpdate(type, current, next, statusOnly)) {
                          err = *e;
                          return Status(Code::kInvalidArgument, e->message);
                        }
                        return next;
                      });
}

Response Handler::patch(const Request& req, const ResourceType& type, const ResourcePath& rp) {
  std::string ct = req.header("content-type");
  if (ct.rfind("application/apply-patch", 0) == 0) {
    return errorResponse(ApiError{415, "UnsupportedMediaType",
                                  "server-side apply is not supported by the sandbox API server; "
                                  "use client-side kubectl apply",
                                  "", "", ""});
  }
  auto ptype = patchTypeFromContentType(ct);
  if (!ptype) {
    return errorResponse(
        ApiError{415, "UnsupportedMediaType", ptype.status().message(), "", "", ""});
  }
  auto body = parseBody(req.body);
  if (!body) return errorResponse(badRequest(body.status().message()));
  json patchDoc = std::move(*body);
  bool statusOnly = rp.subresource == "status";
  auto dry = dryRunOf(req);
  if (!dry) return errorResponse(badRequest(dry.status().message()));
  return commitUpdate(type, rp, *dry,
                      [&](const json& current, std::optional<ApiError>& err) -> Result<json> {
                        json base = current;
                        base["apiVersion"] = type.apiVersion();
                        base["kind"] = type.kind;
                        auto patched = applyPatch(base, patchDoc, *ptype);
                        if (!patched) {
                          err = ApiError{422,         "Invalid", patched.status().message(),
                                         type.plural, rp.name,   type.group};
                          return patched.status();
                        }
                        json next = std::move(*patched);
                        if (auto e = admission_.checkShape(type, next)) {
                          err = *e;
                          return Status(Code::kInvalidArgument, e->message);
                        }
                        if (metaStr(next, "name") != rp.name) {
                          err = badRequest("metadata.name: the patch may not change the name");
                          return Status(Code::kInvalidArgument, err->message);
                        }
                        std::string want = metaStr(next, "resourceVersion");
                        if (!want.empty() && want != metaStr(current, "resourceVersion")) {
                          err = conflict(type.plural, type.group, rp.name, kModified);
                          return Status(Code::kFailedPrecondition, kModified);
                        }
                        if (auto e = admission_.prepareUpdate(type, current, next, statusOnly)) {
                          err = *e;
                          return Status(Code::kInvalidArgument, e->message);
                        }
                        return next;
                      });
}

Response Handler::remove(const Request& req, const ResourceType& type, const ResourcePath& rp) {
  json opts;
  if (!req.body.empty()) {
    auto b = parseBody(req.body);
    if (!b) return errorResponse(badRequest(b.status().message()));
    opts = std::move(*b);
    if (!opts.is_object()) return errorResponse(badRequest("DeleteOptions must be a JSON object"));
  }
  auto dry = dryRunOf(req);
  if (!dry) return errorResponse(badRequest(dry.status().message()));
  // kubectl delete --dry-run=server sends it in DeleteOptions.
  if (opts.is_object() && opts.contains("dryRun") && opts["dryRun"].is_array()) {
    for (const auto& v : opts["dryRun"]) {
      if (v != "All") return errorResponse(badRequest("dryRun: Unsupported value: " + v.dump()));
      *dry = true;
    }
  }
  const bool isNamespace = type.group.empty() && type.plural == "namespaces";
  if (isNamespace &&
      (rp.name == "default" || rp.name == "kube-system" || rp.name == "kube-public")) {
    return errorResponse(
        ApiError{403, "Forbidden",
                 "namespaces \"" + rp.name + "\" is forbidden: this namespace may not be deleted",
                 "namespaces", rp.name, ""});
  }
  std::optional<ApiError> err;
  auto precheck = [&](const json& current) -> Status {
    json pre = opts.is_object() && opts.contains("preconditions") ? opts["preconditions"] : json();
    std::string uid = str(pre, "uid"), rv = str(pre, "resourceVersion");
    if (!uid.empty() && uid != metaStr(current, "uid")) {
      err = conflict(type.plural, type.group, rp.name,
                     "Precondition failed: UID in precondition: " + uid +
                         ", UID in object meta: " + metaStr(current, "uid"));
      return Status(Code::kFailedPrecondition, "uid");
    }
    if (!rv.empty() && rv != metaStr(current, "resourceVersion")) {
      err = conflict(type.plural, type.group, rp.name, kModified);
      return Status(Code::kFailedPrecondition, "rv");
    }
    return Status::ok();
  };
  if (*dry) {
    // Answer with the object as it stands; nothing is marked or removed.
    auto current = store_.get(type.storageKey(), rp.ns, rp.name);
    if (!current) return errorResponse(notFound(type.plural, type.group, rp.name));
    if (Status s = precheck(*current); !s) return errorResponse(*err);
    if (isNamespace) (*current)["status"] = {{"phase", "Terminating"}};
    return objectResponse(200, type, std::move(*current));
  }
  if (type.group.empty() && type.plural == "pods") {
    auto grace = requestedGracePeriod(req, opts);
    if (!grace) return errorResponse(badRequest(grace.status().message()));
    auto marked = markPodDeleting(rp.ns, rp.name, *grace, precheck);
    if (!marked) return errorResponse(err ? *err : storeError(marked.status(), type, rp.name));
    if (*marked) return objectResponse(200, type, std::move(**marked));
  }
  if (isNamespace) {
    auto current = store_.get("namespaces", "", rp.name);
    if (!current) return errorResponse(notFound(type.plural, type.group, rp.name));
    if (Status s = precheck(*current); !s) return errorResponse(*err);
    store_.removeNamespaceContents(rp.name);
  }
  auto removed = store_.remove(type.storageKey(), rp.ns, rp.name, precheck);
  if (!removed) return errorResponse(err ? *err : storeError(removed.status(), type, rp.name));
  if (type.group == "apiextensions.k8s.io") {
    store_.removeAll(rp.name);
    registry_.removeCrd(rp.name);
  }
  if (isNamespace) (*removed)["status"] = {{"phase", "Terminating"}};
  return objectResponse(200, type, std::move(*removed));
}

Response Handler::removeCollection(const Request& req, const ResourceType& type,
                                   const ResourcePath& rp) {
  if (type.group.empty() && type.plural == "namespaces") {
    return errorResponse(ApiError{405, "MethodNotAllowed",
                                  "deletecollection of namespaces is not supported", "", "", ""});
  }
  auto parsed = filterFor(req, type, rp);
  if (!parsed) return errorResponse(badRequest(parsed.status().message()));
  WatchFilter filter = std::move(*parsed);
  auto res = store_.list(filter, 0, "");
  json items = json::array();
  const bool pods = type.group.empty() && type.plural == "pods";
  std::optional<int64_t> grace;
  if (pods) {
    json opts;
    if (!req.body.empty()) {
      auto b = parseBody(req.body);
      if (!b) return errorResponse(badRequest(b.status().message()));
      opts = std::move(*b);
    }
    auto g = requestedGracePeriod(req, opts);
    if (!g) return errorResponse(badRequest(g.status().message()));
    grace = *g;
  }
  for (const auto& o : res.items) {
    if (pods) {
      auto marked = markPodDeleting(metaStr(o, "namespace"), metaStr(o, "name"), grace, {});
      if (!marked) continue;  // gone meanwhile
      if (*marked) {
        items.push_back(std::move(**marked));
        continue;
      }
    }
    auto removed = store_.remove(type.storageKey(), metaStr(o, "namespace"), metaStr(o, "name"));
    if (removed) {
      if (type.group == "apiextensions.k8s.io") {
        store_.removeAll(metaStr(o, "name"));
        registry_.removeCrd(metaStr(o, "name"));
      }
      items.push_back(std::move(*removed));
    }
  }
  return jsonResponse(200, {{"kind", type.kind + "List"},
                            {"apiVersion", type.apiVersion()},
                            {"metadata", {{"resourceVersion", std::to_string(store_.currentRv())}}},
                            {"items", items}});
}

Result<std::optional<int64_t>> Handler::requestedGracePeriod(const Request& req, const json& opts) {
  if (opts.is_object() && opts.contains("gracePeriodSeconds") &&
      !opts["gracePeriodSeconds"].is_null()) {
    if (!opts["gracePeriodSeconds"].is_number_integer()) {
      return Status(Code::kInvalidArgument, "DeleteOptions.gracePeriodSeconds must be an integer");
    }
    return std::optional<int64_t>(opts["gracePeriodSeconds"].get<int64_t>());
  }
  std::string q = req.param("gracePeriodSeconds");
  if (q.empty()) return std::optional<int64_t>();
  bool negative = q[0] == '-';
  auto v = parseUint(negative ? q.substr(1) : q);
  if (!v || *v > 1000000000) {
    return Status(Code::kInvalidArgument,
                  "gracePeriodSeconds: Invalid value: \"" + q + "\": must be an integer");
  }
  return std::optional<int64_t>(negative ? -static_cast<int64_t>(*v) : static_cast<int64_t>(*v));
}

namespace {

// The grace period a pod gets, as the real server computes it: the request's, else
// spec.terminationGracePeriodSeconds, else 30; 0 for pods never bound to a node or already
// finished; negative values mean 1.
int64_t effectiveGracePeriod(const json& pod, std::optional<int64_t> requested) {
  const json spec = pod.value("spec", json::object());
  if (str(spec, "nodeName").empty()) return 0;
  std::string phase = pod.contains("status") ? str(pod["status"], "phase") : "";
  if (phase == "Succeeded" || phase == "Failed") return 0;
  int64_t grace = 30;
  if (requested) {
    grace = *requested;
  } else if (spec.is_object() && spec.contains("terminationGracePeriodSeconds") &&
             spec["terminationGracePeriodSeconds"].is_number_integer()) {
    grace = spec["terminationGracePeriodSeconds"].get<int64_t>();
  }
  return grace < 0 ? 1 : grace;
}

}  // namespace

Result<std::optional<json>> Handler::markPodDeleting(
    const std::string& ns, const std::string& name, std::optional<int64_t> requested,
    const std::function<Status(const json&)>& precheck) {
  enum class Outcome { kMarked, kRemoveNow, kUnchanged };
  Outcome outcome = Outcome::kMarked;
  json unchanged;
  auto marked = store_.update("pods", ns, name, [&](const json& current) -> Result<json> {
    if (precheck) {
      if (Status s = precheck(current); !s) return s;
    }
    int64_t grace = effectiveGracePeriod(current, requested);
    if (grace == 0) {
      outcome = Outcome::kRemoveNow;
      return Status(Code::kFailedPrecondition, "remove now");
    }
    const json& meta = current["metadata"];
    std::time_t now = std::time(nullptr);
    std::time_t deadline = now + grace;
    auto since = parseTimestamp(str(meta, "deletionTimestamp"));
    if (since) {
      // Already terminating: a repeated delete may only shorten the grace period, counted from
      // the first request (deletionTimestamp - deletionGracePeriodSeconds).
      int64_t had = meta.value("deletionGracePeriodSeconds", json(0)).is_number_integer()
                        ? meta["deletionGracePeriodSeconds"].get<int64_t>()
                        : 0;
      std::time_t shortened = *since - had + grace;
      if (grace >= had) {
        outcome = Outcome::kUnchanged;
        unchanged = current;
        return Status(Code::kFailedPrecondition, "unchanged");
      }
      deadline = std::max(shortened, now);
    }
    json next = current;
    next["metadata"]["deletionTimestamp"] = formatTimestamp(deadline);
    next["metadata"]["deletionGracePeriodSeconds"] = grace;
    return next;
  });
  if (outcome == Outcome::kRemoveNow) return std::optional<json>();
  if (outcome == Outcome::kUnchanged) return std::optional<json>(std::move(unchanged));
  if (!marked) return marked.status();
  return std::optional<json>(std::move(*marked));
}

Response Handler::bind(const Request& req, const ResourceType& type, const ResourcePath& rp) {
  if (auto e = unsupportedBodyType(req)) return errorResponse(*e);
  auto body = parseBody(req.body);
  if (!body) return errorResponse(badRequest(body.status().message()));
  const json& b = *body;
  if (!b.is_object()) return errorResponse(badRequest("the request body must be a Binding object"));
  if (b.contains("kind") && b["kind"] != "Binding") {
    return errorResponse(
        badRequest("the kind in the data does not match the expected kind (Binding)"));
  }
  std::string bodyName = metaStr(b, "name");
  if (!bodyName.empty() && bodyName != rp.name) {
    return errorResponse(badRequest("the name of the object (" + bodyName +
                                    ") does not match the name on the URL (" + rp.name + ")"));
  }
  const json target = b.value("target", json::object());
  std::string node = str(target, "name");
  std::string kind = str(target, "kind");
  if (node.empty()) {
    return errorResponse(invalid("Binding", "", rp.name, "target.name: Required value"));
  }
  if (!kind.empty() && kind != "Node") {
    return errorResponse(
        invalid("Binding", "", rp.name,
                "target.kind: Unsupported value: \"" + kind + "\": supported values: \"Node\""));
  }
  std::optional<ApiError> err;
  auto bound = store_.update("pods", rp.ns, rp.name, [&](const json& current) -> Result<json> {
    std::string was = current.contains("spec") ? str(current["spec"], "nodeName") : "";
    if (!metaStr(current, "deletionTimestamp").empty()) {
      err = conflict(type.plural, type.group, rp.name,
                     "pod " + rp.name + " is being deleted, cannot be assigned to a host");
    } else if (!was.empty()) {
      err = conflict(type.plural, type.group, rp.name,
                     "pod " + rp.name + " is already assigned to node \"" + was + "\"");
    }
    if (err) return Status(Code::kFailedPrecondition, err->message);
    json next = current;
    next["spec"]["nodeName"] = node;
    json& status = next["status"];
    if (!status.is_object()) status = json::object();
    if (!status.contains("conditions") || !status["conditions"].is_array()) {
      status["conditions"] = json::array();
    }
    json& conds = status["conditions"];
    conds.erase(std::remove_if(conds.begin(), conds.end(),
                               [](const json& c) { return str(c, "type") == "PodScheduled"; }),
                conds.end());
    conds.push_back({{"type", "PodScheduled"},
                     {"status", "True"},
                     {"lastProbeTime", nullptr},
                     {"lastTransitionTime", nowTimestamp()}});
    return next;
  });
  if (!bound) return errorResponse(err ? *err : storeError(bound.status(), type, rp.name));
  json status = successStatus(type.plural, type.group, rp.name);
  status["code"] = 201;
  return jsonResponse(201, status);
}

}  // namespace petrel::apiserver
