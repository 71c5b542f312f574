// libcurl-based apiserver client.
#include "k8s/rest_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "k8s/curl_tls.h"

namespace petrel::k8s {

namespace {

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

}  // namespace

void applyTls(CURL* c, const ClusterConfig& cfg) {
  if (!cfg.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(cfg.ca_pem.data()), cfg.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (cfg.insecure_skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!cfg.client_cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(cfg.client_cert_pem.data()), cfg.client_cert_pem.size(),
                   CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(cfg.client_key_pem.data()), cfg.client_key_pem.size(),
                  CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }
}

namespace {

// Applies server, TLS and auth settings shared by every request.
HeaderList configure(CURL* c, const ClusterConfig& cfg, const std::string& path) {
  std::string url = cfg.server + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
  applyTls(c, cfg);
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  headers = curl_slist_append(headers, "User-Agent: petrel-agent");
  if (!cfg.token.empty())
    headers = curl_slist_append(headers, ("Authorization: Bearer " + cfg.token).c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  return HeaderList(headers);
}

size_t appendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

struct StreamState {
  const std::function<bool(std::string_view)>* on_line;
  const std::atomic<bool>* stop;
  std::string pending;
  std::string error_body;  // body of a non-200 answer
  CURL* curl;
  bool stopped = false;
};

size_t streamLines(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<StreamState*>(user);
  long code = 0;
  curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200) {
    st->error_body.append(data, size * n);
    return size * n;
  }
  st->pending.append(data, size * n);
  size_t start = 0;
  for (size_t nl; (nl = st->pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(st->pending.data() + start, nl - start);
    if (!line.empty() && !(*st->on_line)(line)) {
      st->stopped = true;
      return 0;  // aborts the transfer
    }
  }
  st->pending.erase(0, start);
  if (st->stop->load()) {
    st->stopped = true;
    return 0;
  }
  return size * n;
}

// Lets a blocked stream notice `stop` even when no bytes arrive.
int progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* st = static_cast<StreamState*>(user);
  if (st->stop->load()) {
    st->stopped = true;
    return 1;
  }
  return 0;
}

}  // namespace

RestClient::RestClient(ClusterConfig config) : config_(std::move(config)) {
  globalInit();
}
RestClient::~RestClient() = default;

Result<HttpResponse> RestClient::get(const std::string& path, std::chrono::seconds timeout) const {
  return send("GET", path, "", timeout);
}

Result<HttpResponse> RestClient::send(const std::string& method, const std::string& path,
                                      const std::string& body, std::chrono::seconds timeout,
                                      const std::string& content_type) const {
  CurlHandle c(curl_easy_init());
  if (!c) return Status(Code::kResourceExhausted, "curl_easy_init failed");
  auto headers = configure(c.get(), config_, path);
  if (method != "GET") {
    curl_easy_setopt(c.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
    headers.reset(curl_slist_append(headers.release(), ("Content-Type: " + content_type).c_str()));
    curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
    if (!body.empty()) {
      curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
  }
  HttpResponse resp;
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT, static_cast<long>(timeout.count()));
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, appendBody);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &resp.body);
  CURLcode rc = curl_easy_perform(c.get());
  if (rc != CURLE_OK) {
    return makeError(Code::kUnavailable, "{} {}{}: {}", method, config_.server, path,
                     curl_easy_strerror(rc));
  }
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

Status RestClient::watch(const std::string& path,
                         const std::function<bool(std::string_view)>& on_line,
                         std::chrono::seconds stall_timeout, const std::atomic<bool>& stop) const {
  CurlHandle c(curl_easy_init());
  if (!c) return Status(Code::kResourceExhausted, "curl_easy_init failed");
  auto headers = configure(c.get(), config_, path);
  StreamState st{&on_line, &stop, {}, {}, c.get()};
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, streamLines);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(c.get(), CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c.get(), CURLOPT_XFERINFOFUNCTION, progress);
  curl_easy_setopt(c.get(), CURLOPT_XFERINFODATA, &st);
  // A stream with less than 1 byte/s for stall_timeout is dead: bookmarks keep a live one busy.
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_TIME, static_cast<long>(stall_timeout.count()));
  CURLcode rc = curl_easy_perform(c.get());
  if (st.stopped) return Status::ok();
  long code = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return makeError(Code::kUnavailable, "watch {}: no data for {}s, restarting it", path,
                     stall_timeout.count());
  }
  if (rc != CURLE_OK)
    return makeError(Code::kUnavailable, "watch {}{}: {}", config_.server, path,
                     curl_easy_strerror(rc));
  if (code != 200) {
    return makeError(code == 410 ? Code::kFailedPrecondition : Code::kUnavailable,
                     "watch {}: HTTP {}: {}", path, code, st.error_body.substr(0, 300));
  }
  return Status::ok();
}

std::string urlEncode(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace petrel::k8s
