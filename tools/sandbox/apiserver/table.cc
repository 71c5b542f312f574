// Table columns and cells per kind.
#include "tools/sandbox/apiserver/table.h"

#include <ctime>

#include "tools/sandbox/apiserver/admission.h"
#include "tools/sandbox/apiserver/selector.h"

namespace petrel::apiserver {

using nlohmann::json;

bool wantsTable(const std::string& accept) {
  return accept.find("as=Table") != std::string::npos;
}

IncludeObject includeObjectFromQuery(const std::string& value) {
  if (value == "None") return IncludeObject::kNone;
  if (value == "Object") return IncludeObject::kObject;
  return IncludeObject::kMetadata;
}

std::string humanAge(std::chrono::seconds age) {
  long s = std::max<long>(0, static_cast<long>(age.count()));
  if (s < 120) return std::to_string(s) + "s";
  long m = s / 60;
  if (m < 10) return std::to_string(m) + "m" + (s % 60 ? std::to_string(s % 60) + "s" : "");
  if (m < 180) return std::to_string(m) + "m";
  long h = m / 60;
  if (h < 8) return std::to_string(h) + "h" + (m % 60 ? std::to_string(m % 60) + "m" : "");
  if (h < 48) return std::to_string(h) + "h";
  long d = h / 24;
  if (d < 8) return std::to_string(d) + "d" + (h % 24 ? std::to_string(h % 24) + "h" : "");
  if (d < 365 * 2) return std::to_string(d) + "d";
  return std::to_string(d / 365) + "y";
}

namespace {

struct Column {
  const char* name;
  const char* type;
  int priority;
};

std::string age(const json& obj, std::chrono::system_clock::time_point now) {
  std::string ts = fieldValue(obj, "metadata.creationTimestamp");
  std::tm tm{};
  if (ts.size() < 19 || !strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return "<unknown>";
  auto created = std::chrono::system_clock::from_time_t(timegm(&tm));
  return humanAge(std::chrono::duration_cast<std::chrono::seconds>(now - created));
}

std::string orNone(const std::string& s) {
  return s.empty() ? "<none>" : s;
}

std::string selectorText(const json& sel) {
  if (!sel.is_object()) return "";
  std::string out;
  for (const auto& [k, v] : sel.items()) {
    if (!v.is_string()) continue;
    if (!out.empty()) out += ",";
    out += k + "=" + v.get<std::string>();
  }
  return out;
}

std::string podSelectorText(const json& sel) {
  if (!sel.is_object()) return "<none>";
  std::string out = sel.contains("matchLabels") ? selectorText(sel["matchLabels"]) : "";
  if (sel.contains("matchExpressions") && sel["matchExpressions"].is_array()) {
    for (const auto& e : sel["matchExpressions"]) {
      if (!out.empty()) out += ",";
      out += fieldValue(e, "key") + " " + fieldValue(e, "operator");
    }
  }
  return out.empty() ? "<none>" : out;
}

std::vector<Column> columnsFor(const ResourceType& t) {
  if (t.group.empty() && t.plural == "pods") {
    return {{"Name", "string", 0},     {"Ready", "string", 0}, {"Status", "string", 0},
            {"Restarts", "string", 0}, {"Age", "string", 0},   {"IP", "string", 1},
            {"Node", "string", 1}};
  }
  if (t.group.empty() && t.plural == "services") {
    return {{"Name", "string", 0},        {"Type", "string", 0},    {"Cluster-IP", "string", 0},
            {"External-IP", "string", 0}, {"Port(s)", "string", 0}, {"Age", "string", 0},
            {"Selector", "string", 1}};
  }
  if (t.group.empty() && t.plural == "nodes") {
    return {{"Name", "string", 0}, {"Status", "string", 0},  {"Roles", "string", 0},
            {"Age", "string", 0},  {"Version", "string", 0}, {"Internal-IP", "string", 1}};
  }
  if (t.group.empty() && t.plural == "namespaces") {
    return {{"Name", "string", 0}, {"Status", "string", 0}, {"Age", "string", 0}};
  }
  if (t.group == "networking.k8s.io" && t.plural == "networkpolicies") {
    return {{"Name", "string", 0}, {"Pod-Selector", "string", 0}, {"Age", "string", 0}};
  }
  if (t.group == "discovery.k8s.io" && t.plural == "endpointslices") {
    return {{"Name", "string", 0},
            {"AddressType", "string", 0},
            {"Ports", "string", 0},
            {"Endpoints", "string", 0},
            {"Age", "string", 0}};
  }
  return {{"Name", "string", 0}, {"Age", "string", 0}};
}

json podCells(const json& o, std::chrono::system_clock::time_point now) {
  int total = 0, ready = 0, restarts = 0;
  if (o.contains("spec") && o["spec"].contains("containers") && o["spec"]["containers"].is_array())
    total = static_cast<int>(o["spec"]["containers"].size());
  if (o.contains("status") && o["status"].contains("containerStatuses") &&
      o["status"]["containerStatuses"].is_array()) {
    for (const auto& cs : o["status"]["containerStatuses"]) {
      if (cs.contains("ready") && cs["ready"] == true) ++ready;
      if (cs.contains("restartCount") && cs["restartCount"].is_number_integer())
        restarts += cs["restartCount"].get<int>();
    }
  }
  std::string status = fieldValue(o, "status.phase");
  if (o.contains("metadata") && o["metadata"].contains("deletionTimestamp")) status = "Terminating";
  return {fieldValue(o, "metadata.name"),
          std::to_string(ready) + "/" + std::to_string(total),
          orNone(status),
          std::to_string(restarts),
          age(o, now),
          orNone(fieldValue(o, "status.podIP")),
          orNone(fieldValue(o, "spec.nodeName"))};
}

json serviceCells(const json& o, std::chrono::system_clock::time_point now) {
  std::string ports;
  if (o.contains("spec") && o["spec"].contains("ports") && o["spec"]["ports"].is_array()) {
    for (const auto& p : o["spec"]["ports"]) {
      if (!ports.empty()) ports += ",";
      ports += fieldValue(p, "port");
      std::string np = fieldValue(p, "nodePort");
      if (!np.empty()) ports += ":" + np;
      std::string proto = fieldValue(p, "protocol");
      ports += "/" + (proto.empty() ? std::string("TCP") : proto);
    }
  }
  std::string ext = "<none>";
  if (o.contains("spec") && o["spec"].contains("externalIPs") &&
      o["spec"]["externalIPs"].is_array()) {
    std::string e;
    for (const auto& ip : o["spec"]["externalIPs"]) {
      if (!ip.is_string()) continue;
      if (!e.empty()) e += ",";
      e += ip.get<std::string>();
    }
    if (!e.empty()) ext = e;
  }
  std::string type = fieldValue(o, "spec.type");
  return {fieldValue(o, "metadata.name"),
          type.empty() ? "ClusterIP" : type,
          orNone(fieldValue(o, "spec.clusterIP")),
          ext,
          orNone(ports),
          age(o, now),
          orNone(selectorText(o.contains("spec") ? o["spec"].value("selector", json()) : json()))};
}

json nodeCells(const json& o, std::chrono::system_clock::time_point now) {
  std::string status = "Unknown";
  std::string internalIp;
  if (o.contains("status") && o["status"].is_object()) {
    const json& st = o["status"];
    if (st.contains("conditions") && st["conditions"].is_array()) {
      for (const auto& c : st["conditions"]) {
        if (fieldValue(c, "type") == "Ready") {
          status = fieldValue(c, "status") == "True" ? "Ready" : "NotReady";
        }
      }
    }
    if (st.contains("addresses") && st["addresses"].is_array()) {
      for (const auto& a : st["addresses"]) {
        if (fieldValue(a, "type") == "InternalIP") internalIp = fieldValue(a, "address");
      }
    }
  }
  std::string roles;
  if (o.contains("metadata") && o["metadata"].contains("labels") &&
      o["metadata"]["labels"].is_object()) {
    const std::string prefix = "node-role.kubernetes.io/";
    for (const auto& [k, v] : o["metadata"]["labels"].items()) {
      if (k.rfind(prefix, 0) == 0) roles += (roles.empty() ? "" : ",") + k.substr(prefix.size());
    }
  }
  return {fieldValue(o, "metadata.name"),
          status,
          orNone(roles),
          age(o, now),
          orNone(fieldValue(o, "status.nodeInfo.kubeletVersion")),
          orNone(internalIp)};
}

json endpointSliceCells(const json& o, std::chrono::system_clock::time_point now) {
  std::string ports, eps;
  if (o.contains("ports") && o["ports"].is_array()) {
    for (const auto& p : o["ports"]) ports += (ports.empty() ? "" : ",") + fieldValue(p, "port");
  }
  if (o.contains("endpoints") && o["endpoints"].is_array()) {
    for (const auto& e : o["endpoints"]) {
      if (!e.contains("addresses") || !e["addresses"].is_array()) continue;
      for (const auto& a : e["addresses"]) {
        if (a.is_string()) eps += (eps.empty() ? "" : ",") + a.get<std::string>();
      }
    }
  }
  return {fieldValue(o, "metadata.name"), fieldValue(o, "addressType"), orNone(ports), orNone(eps),
          age(o, now)};
}

json cellsFor(const ResourceType& t, const json& o, std::chrono::system_clock::time_point now) {
  if (t.group.empty() && t.plural == "pods") return podCells(o, now);
  if (t.group.empty() && t.plural == "services") return serviceCells(o, now);
  if (t.group.empty() && t.plural == "nodes") return nodeCells(o, now);
  if (t.group.empty() && t.plural == "namespaces") {
    std::string phase = fieldValue(o, "status.phase");
    return {fieldValue(o, "metadata.name"), phase.empty() ? "Active" : phase, age(o, now)};
  }
  if (t.group == "networking.k8s.io" && t.plural == "networkpolicies") {
    return {fieldValue(o, "metadata.name"),
            podSelectorText(o.contains("spec") ? o["spec"].value("podSelector", json()) : json()),
            age(o, now)};
  }
  if (t.group == "discovery.k8s.io" && t.plural == "endpointslices") {
    return endpointSliceCells(o, now);
  }
  return {fieldValue(o, "metadata.name"), age(o, now)};
}

}  // namespace

json evalJsonPath(const json& obj, const std::string& path) {
  const json* cur = &obj;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') {
      size_t end = path.find_first_of(".[", i + 1);
      std::string field = path.substr(i + 1, end == std::string::npos ? end : end - i - 1);
      if (field.empty()) return json();
      if (!cur->is_object() || !cur->contains(field)) return json();
      cur = &(*cur)[field];
      i = end == std::string::npos ? path.size() : end;
    } else if (path.compare(i, 4, "[?(@") == 0) {
      // [?(@.key=='value')]: the first array element whose key equals value.
      size_t close = path.find(")]", i);
      if (close == std::string::npos || !cur->is_array()) return json();
      std::string cond = path.substr(i + 4, close - i - 4);  // .key=='value'
      size_t eq = cond.find("==");
      if (eq == std::string::npos || cond.empty() || cond[0] != '.') return json();
      std::string key = cond.substr(1, eq - 1);
      std::string want = cond.substr(eq + 2);
      if (want.size() >= 2 && (want.front() == '\'' || want.front() == '"')) {
        want = want.substr(1, want.size() - 2);
      }
      const json* found = nullptr;
      for (const auto& e : *cur) {
        if (e.is_object() && e.contains(key) && e[key].is_string() && e[key] == want) {
          found = &e;
          break;
        }
      }
      if (!found) return json();
      cur = found;
      i = close + 2;
    } else {
      return json();  // outside the supported subset
    }
  }
  return *cur;
}

json toTable(const ResourceType& type, const std::vector<json>& objects, const json& listMeta,
             IncludeObject include, std::chrono::system_clock::time_point now) {
  json cols = json::array();
  const bool crd = !type.printerColumns.empty();
  if (crd) {
    // A CRD's additionalPrinterColumns after Name, as the real server prints them.
    cols.push_back({{"name", "Name"},
                    {"type", "string"},
                    {"format", "name"},
                    {"description", ""},
                    {"priority", 0}});
    for (const auto& c : type.printerColumns) {
      cols.push_back({{"name", c.name},
                      {"type", c.type == "date" ? "string" : c.type},
                      {"format", ""},
                      {"description", ""},
                      {"priority", c.priority}});
    }
  }
  for (const auto& c : crd ? std::vector<Column>{} : columnsFor(type)) {
    cols.push_back({{"name", c.name},
                    {"type", c.type},
                    {"format", c.name == std::string("Name") ? "name" : ""},
                    {"description", ""},
                    {"priority", c.priority}});
  }
  auto crdCells = [&](const json& o) {
    json cells = json::array({fieldValue(o, "metadata.name")});
    for (const auto& c : type.printerColumns) {
      json v = evalJsonPath(o, c.jsonPath);
      if (c.type == "date" && v.is_string()) {
        auto t = parseTimestamp(v.get<std::string>());
        v = t ? json(humanAge(std::chrono::duration_cast<std::chrono::seconds>(
                    now - std::chrono::system_clock::from_time_t(*t))))
              : json();
      }
      // A string column shows lists and maps as JSON text, as the real server's does.
      if (c.type == "string" && !v.is_string() && !v.is_null()) v = v.dump();
      cells.push_back(std::move(v));
    }
    return cells;
  };
  json rows = json::array();
  for (const auto& o : objects) {
    json row = {{"cells", crd ? crdCells(o) : cellsFor(type, o, now)}};
    if (include == IncludeObject::kObject) {
      row["object"] = o;
    } else if (include == IncludeObject::kMetadata) {
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", o.value("metadata", json::object())}};
    }
    rows.push_back(std::move(row));
  }
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", listMeta.is_object() ? listMeta : json::object()},
          {"columnDefinitions", cols},
          {"rows", rows}};
}

}  // namespace petrel::apiserver
