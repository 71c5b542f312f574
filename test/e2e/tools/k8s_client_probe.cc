// petrel-test-k8s-client: runs Petrel's k8s::ListWatcher against a real API server for the e2e
// tests of the client (test/e2e/k8s_client_test.cc) and prints what it sees as JSON lines:
//
//   petrel-test-k8s-client --kubeconfig F --path /api/v1/namespaces/NS/configmaps
//                          [--label-selector SEL] [--page-size N] [--watch-timeout S]
//                          [--stall-timeout S] [--stop-after-pages N]
//
// --stop-after-pages N stops the process (SIGSTOP to itself) right after the N-th list page,
// between two requests, so a test can change the server before the next page is asked for.
// stdout, one object per line, flushed as it happens ("event" names the kind, "t_ms" is the
// time since start):
//   page        a list page: the continue token sent and received, its items, its version
//   list_error  a list page answered with an HTTP error (e.g. 410 for an expired continue)
//   stopping    about to stop itself (--stop-after-pages)
//   watch       a watch call starts, from resourceVersion "rv"
//   bookmark    a BOOKMARK event, with its version (the client must not deliver it)
//   watch_error an ERROR event from the server: its code, reason and message
//   watch_end   the server ended (or the client stopped) a watch, with the call's status
//   replace     the sink got a complete list: its items, how many distinct names, and why
//               ("relist": initial, "gone: <the server's message>" or "error: <last error>")
//   upsert / remove   the sink got one object ("name", "rv")
//   exit        on SIGTERM/SIGINT: the ListWatchStats and the objects held ({name: rv})
// The transport between ListWatcher and the server is a pass-through that only looks.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "k8s/cluster_config.h"
#include "k8s/list_watcher.h"
#include "k8s/rest_client.h"
#include "k8s/rest_transport.h"

namespace {

using nlohmann::json;
using petrel::k8s::ApiTransport;
using petrel::k8s::ListWatchStats;

std::mutex out_mu;
const auto start = std::chrono::steady_clock::now();

void emit(json line) {
  line["t_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
  std::string text = line.dump() + "\n";
  std::lock_guard lock(out_mu);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

std::string str(const json& doc, const json::json_pointer& at) {
  return doc.contains(at) && doc.at(at).is_string() ? doc.at(at).get<std::string>() : "";
}

// The query parameter `key` of `path`, percent-decoded; "" when absent.
std::string queryParam(const std::string& path, const std::string& key) {
  auto q = path.find('?');
  if (q == std::string::npos) return "";
  std::string rest = "&" + path.substr(q + 1);
  auto at = rest.find("&" + key + "=");
  if (at == std::string::npos) return "";
  auto from = at + key.size() + 2;
  std::string raw = rest.substr(from, rest.find('&', from) - from);
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size()) {
      out += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += raw[i];
    }
  }
  return out;
}

// Forwards to the real transport and reports pages, bookmarks and errors on the way.
class ObservingTransport : public ApiTransport {
 public:
  ObservingTransport(ApiTransport& inner, int stop_after_pages)
      : inner_(inner), stop_after_pages_(stop_after_pages) {}

  petrel::Result<std::pair<long, std::string>> get(const std::string& path) override {
    auto resp = inner_.get(path);
    if (!resp) {
      emit({{"event", "list_error"}, {"error", resp.status().toString()}});
      return resp;
    }
    const auto& [code, body] = *resp;
    if (code != 200) {
      json doc = json::parse(body, nullptr, false);
      emit({{"event", "list_error"},
            {"code", code},
            {"continue_sent", queryParam(path, "continue")},
            {"reason", doc.is_object() ? doc.value("reason", "") : ""},
            {"message", doc.is_object() ? doc.value("message", "") : body.substr(0, 300)}});
      return resp;
    }
    json doc = json::parse(body, nullptr, false);
    size_t items = doc.is_object() && doc.contains("items") && doc["items"].is_array()
                       ? doc["items"].size()
                       : 0;
    emit({{"event", "page"},
          {"continue_sent", queryParam(path, "continue")},
          {"items", items},
          {"continue", str(doc, "/metadata/continue"_json_pointer)},
          {"rv", str(doc, "/metadata/resourceVersion"_json_pointer)}});
    if (++pages_ == stop_after_pages_) {
      emit({{"event", "stopping"}, {"pages", pages_}});
      raise(SIGSTOP);
    }
    return resp;
  }

  petrel::Status watch(const std::string& path,
                       const std::function<bool(std::string_view)>& on_line,
                       const std::atomic<bool>& stop) override {
    emit({{"event", "watch"}, {"rv", queryParam(path, "resourceVersion")}});
    auto observe = [&](std::string_view line) {
      json ev = json::parse(line, nullptr, false);
      std::string type = ev.is_object() ? ev.value("type", "") : "";
      if (type == "BOOKMARK") {
        emit({{"event", "bookmark"},
              {"rv", str(ev, "/object/metadata/resourceVersion"_json_pointer)}});
      } else if (type == "ERROR") {
        const json& obj = ev.contains("object") ? ev["object"] : json::object();
        emit({{"event", "watch_error"},
              {"code", obj.is_object() ? obj.value("code", 0) : 0},
              {"reason", obj.is_object() ? obj.value("reason", "") : ""},
              {"message", obj.is_object() ? obj.value("message", "") : ""}});
        last_error_ = obj.is_object() ? obj.value("message", "") : "";
      }
      return on_line(line);
    };
    petrel::Status st = inner_.watch(path, observe, stop);
    emit({{"event", "watch_end"}, {"status", st.toString()}});
    return st;
  }

  std::string lastWatchError() const { return last_error_; }

 private:
  ApiTransport& inner_;
  int stop_after_pages_;
  int pages_ = 0;
  std::string last_error_;
};

// Holds name -> resourceVersion, like a cache, and reports every call.
class PrintingSink : public petrel::k8s::ListWatchSink {
 public:
  using Stats = std::function<ListWatchStats()>;
  explicit PrintingSink(const ObservingTransport& transport) : transport_(transport) {}
  void setStats(Stats stats) { stats_ = std::move(stats); }

  void replace(const std::vector<json>& items) override {
    std::string why = "initial";
    ListWatchStats s = stats_();
    if (replaces_ > 0) {
      why = s.relists_after_gone > gone_seen_ ? "gone: " + transport_.lastWatchError()
                                              : "error: " + s.last_error;
    }
    gone_seen_ = s.relists_after_gone;
    replaces_++;
    std::lock_guard lock(mu_);
    objects_.clear();
    for (const auto& item : items) {
      objects_[name(item)] = str(item, "/metadata/resourceVersion"_json_pointer);
    }
    emit({{"event", "replace"},
          {"items", items.size()},
          {"distinct", objects_.size()},
          {"relist", why}});
  }
  void upsert(const json& object) override {
    std::string rv = str(object, "/metadata/resourceVersion"_json_pointer);
    {
      std::lock_guard lock(mu_);
      objects_[name(object)] = rv;
    }
    emit({{"event", "upsert"}, {"name", name(object)}, {"rv", rv}});
  }
  void remove(const json& object) override {
    {
      std::lock_guard lock(mu_);
      objects_.erase(name(object));
    }
    emit({{"event", "remove"}, {"name", name(object)}});
  }
  json objects() const {
    std::lock_guard lock(mu_);
    return objects_;
  }

 private:
  static std::string name(const json& object) {
    std::string ns = str(object, "/metadata/namespace"_json_pointer);
    std::string n = str(object, "/metadata/name"_json_pointer);
    return ns.empty() ? n : ns + "/" + n;
  }

  const ObservingTransport& transport_;
  Stats stats_;
  uint64_t replaces_ = 0;
  uint64_t gone_seen_ = 0;
  mutable std::mutex mu_;
  std::map<std::string, std::string> objects_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"petrel-test-k8s-client: Petrel's ListWatcher against a real API server"};
  std::string kubeconfig;
  petrel::k8s::ListWatchOptions options;
  int stall_timeout = 120;
  int stop_after_pages = 0;
  app.add_option("--kubeconfig", kubeconfig, "kubeconfig of the API server")->required();
  app.add_option("--path", options.path, "collection to list and watch")->required();
  app.add_option("--label-selector", options.label_selector, "labelSelector of list and watch");
  app.add_option("--page-size", options.page_size, "list limit")->check(CLI::Range(1, 100000));
  app.add_option("--watch-timeout", options.watch_timeout_seconds, "timeoutSeconds of a watch")
      ->check(CLI::Range(1, 3600));
  app.add_option("--stall-timeout", stall_timeout, "seconds without bytes before a re-watch")
      ->check(CLI::Range(1, 3600));
  app.add_option("--stop-after-pages", stop_after_pages, "SIGSTOP itself after this many pages");
  CLI11_PARSE(app, argc, argv);
  options.backoff_base = std::chrono::milliseconds(100);
  options.backoff_cap = std::chrono::milliseconds(2000);

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // before any thread starts

  auto cfg = petrel::k8s::loadKubeconfig(kubeconfig);
  if (!cfg) {
    std::fprintf(stderr, "petrel-test-k8s-client: %s\n", cfg.status().toString().c_str());
    return 1;
  }
  petrel::k8s::RestClient client(*cfg);
  petrel::k8s::RestTransport rest(client, std::chrono::seconds(stall_timeout));
  ObservingTransport transport(rest, stop_after_pages);
  PrintingSink sink(transport);
  petrel::k8s::ListWatcher watcher(transport, sink, options);
  sink.setStats([&] { return watcher.stats(); });

  std::atomic<bool> stop{false};
  std::thread loop([&] { watcher.run(stop); });
  int sig = 0;
  sigwait(&sigs, &sig);
  stop = true;
  watcher.wake();
  loop.join();

  ListWatchStats s = watcher.stats();
  emit({{"event", "exit"},
        {"stats",
         {{"lists", s.lists},
          {"pages", s.pages},
          {"watches", s.watches},
          {"events", s.events},
          {"bookmarks", s.bookmarks},
          {"relists_after_gone", s.relists_after_gone},
          {"errors", s.errors},
          {"last_error", s.last_error},
          {"resource_version", s.resource_version}}},
        {"objects", sink.objects()}});
  return 0;
}
