// Pod JSON -> PodSpec.
#include "tools/sandbox/kubelet/pod_spec.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/json_path.h"

namespace petrel::sandbox {

namespace {

using nlohmann::json;

// j's member `key`, or nullptr when it is missing or null.
const json* child(const json& j, const char* key) {
  const json& v = jsonAt(j, {key});
  return v.is_null() ? nullptr : &v;
}

std::string text(const json& j, const char* key) {
  return stringAt(j, {key});
}

Result<std::vector<std::string>> strings(const json& j, const char* key, const std::string& where) {
  std::vector<std::string> out;
  const json* v = child(j, key);
  if (!v) return out;
  if (!v->is_array()) return makeError(Code::kInvalidArgument, "{}.{}: not a list", where, key);
  for (const auto& s : *v) {
    if (!s.is_string()) {
      return makeError(Code::kInvalidArgument, "{}.{}: not a list of strings", where, key);
    }
    out.push_back(s.get<std::string>());
  }
  return out;
}

Result<int> integer(const json& j, const char* key, int fallback, int min,
                    const std::string& where) {
  const json* v = child(j, key);
  if (!v) return fallback;
  if (!v->is_number_integer() || v->get<int64_t>() < min || v->get<int64_t>() > 1000000) {
    return makeError(Code::kInvalidArgument, "{}.{}: must be an integer >= {}", where, key, min);
  }
  return static_cast<int>(v->get<int64_t>());
}

// A probe's port: a number, or the name of one of the container's ports.
Result<uint16_t> probePort(const json& port, const json& container, const std::string& where) {
  if (port.is_number_integer()) {
    int64_t p = port.get<int64_t>();
    if (p < 1 || p > 65535)
      return makeError(Code::kInvalidArgument, "{}: port {} out of range", where, p);
    return static_cast<uint16_t>(p);
  }
  if (port.is_string()) {
    if (const json* ports = child(container, "ports"); ports && ports->is_array()) {
      for (const auto& p : *ports) {
        if (text(p, "name") == port.get<std::string>() && child(p, "containerPort") &&
            p["containerPort"].is_number_integer()) {
          return probePort(p["containerPort"], container, where);
        }
      }
    }
    return makeError(Code::kInvalidArgument, "{}: no container port named \"{}\"", where,
                     port.get<std::string>());
  }
  return makeError(Code::kInvalidArgument, "{}: port must be a number or a port name", where);
}

Result<std::optional<Probe>> decodeProbe(const json& container, const std::string& where) {
  const json* p = child(container, "readinessProbe");
  if (!p) return std::optional<Probe>();
  if (!p->is_object()) return makeError(Code::kInvalidArgument, "{}: not an object", where);
  Probe probe;
  if (const json* h = child(*p, "httpGet")) {
    probe.kind = Probe::Kind::kHttpGet;
    if (!child(*h, "port"))
      return makeError(Code::kInvalidArgument, "{}.httpGet.port: missing", where);
    auto port = probePort((*h)["port"], container, where + ".httpGet.port");
    if (!port) return port.status();
    probe.port = *port;
    if (std::string path = text(*h, "path"); !path.empty()) probe.path = path;
  } else if (const json* t = child(*p, "tcpSocket")) {
    probe.kind = Probe::Kind::kTcpSocket;
    if (!child(*t, "port"))
      return makeError(Code::kInvalidArgument, "{}.tcpSocket.port: missing", where);
    auto port = probePort((*t)["port"], container, where + ".tcpSocket.port");
    if (!port) return port.status();
    probe.port = *port;
  } else if (const json* e = child(*p, "exec")) {
    probe.kind = Probe::Kind::kExec;
    auto cmd = strings(*e, "command", where + ".exec");
    if (!cmd) return cmd.status();
    if (cmd->empty()) return makeError(Code::kInvalidArgument, "{}.exec.command: empty", where);
    probe.command = std::move(*cmd);
  } else {
    return makeError(Code::kInvalidArgument, "{}: needs httpGet, tcpSocket or exec", where);
  }
  struct {
    const char* key;
    int* field;
    int min;
  } ints[] = {{"initialDelaySeconds", &probe.initial_delay_seconds, 0},
              {"periodSeconds", &probe.period_seconds, 1},
              {"timeoutSeconds", &probe.timeout_seconds, 1},
              {"successThreshold", &probe.success_threshold, 1},
              {"failureThreshold", &probe.failure_threshold, 1}};
  for (auto& f : ints) {
    auto v = integer(*p, f.key, *f.field, f.min, where);
    if (!v) return v.status();
    *f.field = *v;
  }
  return std::optional<Probe>(std::move(probe));
}

// The entries of the list at `key` (none when it is absent), each decoded by
// decode(entry, "<where>.<key>[i]").
template <typename T, typename Decode>
Result<std::vector<T>> decodeList(const json& parent, const char* key, const std::string& where,
                                  Decode decode) {
  std::vector<T> out;
  const json* list = child(parent, key);
  if (!list) return out;
  if (!list->is_array()) {
    return makeError(Code::kInvalidArgument, "{}.{}: not a list", where, key);
  }
  for (size_t i = 0; i < list->size(); ++i) {
    Result<T> item = decode((*list)[i], fmt::format("{}.{}[{}]", where, key, i));
    if (!item) return item.status();
    out.push_back(std::move(*item));
  }
  return out;
}

Result<VolumeMount> decodeVolumeMount(const json& m, const std::string& at) {
  VolumeMount vm{text(m, "name"), text(m, "mountPath"), text(m, "subPath"), false};
  if (const json* ro = child(m, "readOnly"); ro && ro->is_boolean()) vm.read_only = *ro;
  if (vm.name.empty()) return makeError(Code::kInvalidArgument, "{}.name: missing", at);
  if (vm.mount_path.empty() || vm.mount_path.front() != '/') {
    return makeError(Code::kInvalidArgument, "{}.mountPath: must be an absolute path", at);
  }
  if (vm.sub_path.find("..") != std::string::npos ||
      (!vm.sub_path.empty() && vm.sub_path.front() == '/')) {
    return makeError(Code::kInvalidArgument, "{}.subPath: must be a relative path without ..", at);
  }
  return vm;
}

// An env entry: a literal value, or valueFrom fieldRef, configMapKeyRef or secretKeyRef.
Result<EnvVar> decodeEnvVar(const json& e, const std::string& where) {
  EnvVar var;
  var.name = text(e, "name");
  if (var.name.empty() || var.name.find('=') != std::string::npos) {
    return makeError(Code::kInvalidArgument, "{}.name: bad variable name \"{}\"", where, var.name);
  }
  var.value = text(e, "value");
  const json* from = child(e, "valueFrom");
  if (!from) return var;
  if (!var.value.empty()) {
    return makeError(Code::kInvalidArgument, "{}: value and valueFrom are exclusive", where);
  }
  if (const json* f = child(*from, "fieldRef")) {
    var.source = EnvVar::Source::kFieldRef;
    var.field_path = text(*f, "fieldPath");
    if (var.field_path.empty()) {
      return makeError(Code::kInvalidArgument, "{}.valueFrom.fieldRef.fieldPath: missing", where);
    }
    return var;
  }
  const char* kinds[] = {"configMapKeyRef", "secretKeyRef"};
  for (const char* kind : kinds) {
    const json* ref = child(*from, kind);
    if (!ref) continue;
    var.source = kind == kinds[0] ? EnvVar::Source::kConfigMapKey : EnvVar::Source::kSecretKey;
    var.object = text(*ref, "name");
    var.key = text(*ref, "key");
    if (const json* o = child(*ref, "optional"); o && o->is_boolean()) var.optional = *o;
    if (var.object.empty() || var.key.empty()) {
      return makeError(Code::kInvalidArgument, "{}.valueFrom.{}: needs name and key", where, kind);
    }
    return var;
  }
  return makeError(Code::kInvalidArgument,
                   "{}.valueFrom: the sandbox supports fieldRef, configMapKeyRef and secretKeyRef",
                   where);
}

Result<ContainerSpec> decodeContainer(const json& c, const std::string& where) {
  if (!c.is_object()) return makeError(Code::kInvalidArgument, "{}: not an object", where);
  ContainerSpec spec;
  spec.name = text(c, "name");
  if (spec.name.empty()) return makeError(Code::kInvalidArgument, "{}.name: missing", where);
  auto command = strings(c, "command", where);
  if (!command) return command.status();
  spec.command = std::move(*command);
  auto args = strings(c, "args", where);
  if (!args) return args.status();
  spec.args = std::move(*args);
  spec.working_dir = text(c, "workingDir");
  spec.image = text(c, "image");
  auto env = decodeList<EnvVar>(c, "env", where, decodeEnvVar);
  if (!env) return env.status();
  spec.env = std::move(*env);
  auto mounts = decodeList<VolumeMount>(c, "volumeMounts", where, decodeVolumeMount);
  if (!mounts) return mounts.status();
  spec.volume_mounts = std::move(*mounts);
  auto probe = decodeProbe(c, where + ".readinessProbe");
  if (!probe) return probe.status();
  spec.readiness = std::move(*probe);
  if (const json* lifecycle = child(c, "lifecycle")) {
    if (const json* pre_stop = child(*lifecycle, "preStop")) {
      const json* sleep = child(*pre_stop, "sleep");
      const json* seconds = sleep ? child(*sleep, "seconds") : nullptr;
      if (!seconds || !seconds->is_number_integer() || seconds->get<int64_t>() < 0) {
        return makeError(Code::kInvalidArgument,
                         "{}.lifecycle.preStop: only sleep {{seconds: N}} is supported by the "
                         "sandbox kubelet",
                         where);
      }
      spec.pre_stop_sleep_seconds =
          static_cast<int>(std::min<int64_t>(seconds->get<int64_t>(), 3600));
    }
  }
  return spec;
}

}  // namespace

std::vector<std::string> ContainerSpec::argv() const {
  if (command.empty() && !args.empty()) return args;
  std::vector<std::string> out =
      command.empty() ? std::vector<std::string>{"petrel-workload"} : command;
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

Result<PodSpec> decodePodSpec(const json& pod) {
  if (!pod.is_object()) return Status(Code::kInvalidArgument, "pod: not a JSON object");
  const json empty = json::object();
  const json& meta = child(pod, "metadata") ? pod["metadata"] : empty;
  const json& spec = child(pod, "spec") ? pod["spec"] : empty;
  PodSpec out;
  out.namespace_ = text(meta, "namespace");
  out.name = text(meta, "name");
  out.uid = text(meta, "uid");
  if (out.namespace_.empty()) out.namespace_ = "default";
  if (out.name.empty()) {
    return makeError(Code::kInvalidArgument, "pod in namespace {}: metadata.name: missing",
                     out.namespace_);
  }
  const std::string who = out.key();
  if (out.uid.empty()) return makeError(Code::kInvalidArgument, "{}: metadata.uid: missing", who);
  out.node_name = text(spec, "nodeName");
  out.deleting = child(meta, "deletionTimestamp") != nullptr;
  auto grace = integer(spec, "terminationGracePeriodSeconds", 30, 0, who + ": spec");
  if (!grace) return grace.status();
  out.grace_seconds = *grace;
  if (const json* g = child(meta, "deletionGracePeriodSeconds"); g && g->is_number_integer()) {
    out.grace_seconds = std::max<int64_t>(0, g->get<int64_t>());
  }
  if (const json* h = child(spec, "hostNetwork"); h && h->is_boolean()) out.host_network = *h;
  if (std::string policy = text(spec, "restartPolicy"); !policy.empty()) {
    if (policy != "Always" && policy != "OnFailure" && policy != "Never") {
      return makeError(Code::kInvalidArgument, "{}: spec.restartPolicy: unknown value \"{}\"", who,
                       policy);
    }
    out.restart_policy = policy;
  }
  if (const json* status = child(pod, "status")) out.phase = text(*status, "phase");
  if (std::string sa = text(spec, "serviceAccountName"); !sa.empty()) out.service_account = sa;
  for (const char* field : {"labels", "annotations"}) {
    auto& into = field[0] == 'l' ? out.labels : out.annotations;
    if (const json* m = child(meta, field); m && m->is_object()) {
      for (const auto& [k, v] : m->items()) {
        if (v.is_string()) into[k] = v.get<std::string>();
      }
    }
  }
  if (std::string policy = text(spec, "dnsPolicy"); !policy.empty()) {
    if (policy != "ClusterFirst" && policy != "ClusterFirstWithHostNet" && policy != "Default" &&
        policy != "None") {
      return makeError(Code::kInvalidArgument, "{}: spec.dnsPolicy: unknown value \"{}\"", who,
                       policy);
    }
    out.dns_policy = policy;
  }
  if (const json* dns = child(spec, "dnsConfig")) {
    auto ns = strings(*dns, "nameservers", who + ": spec.dnsConfig");
    if (!ns) return ns.status();
    auto searches = strings(*dns, "searches", who + ": spec.dnsConfig");
    if (!searches) return searches.status();
    out.dns_config.nameservers = std::move(*ns);
    out.dns_config.searches = std::move(*searches);
    if (const json* opts = child(*dns, "options"); opts && opts->is_array()) {
      for (const auto& o : *opts) {
        std::string name = text(o, "name");
        if (name.empty()) {
          return makeError(Code::kInvalidArgument, "{}: spec.dnsConfig.options: name missing", who);
        }
        std::optional<std::string> value;
        if (const json* v = child(o, "value"); v && v->is_string()) value = v->get<std::string>();
        out.dns_config.options.emplace_back(name, value);
      }
    }
  }
  auto volumes = decodeList<VolumeSpec>(spec, "volumes", who + ": spec", decodeVolume);
  if (!volumes) return volumes.status();
  out.volumes = std::move(*volumes);
  auto inits = decodeList<ContainerSpec>(spec, "initContainers", who + ": spec", decodeContainer);
  if (!inits) return inits.status();
  out.init_containers = std::move(*inits);
  const json* containers = child(spec, "containers");
  if (!containers || !containers->is_array() || containers->empty()) {
    return makeError(Code::kInvalidArgument, "{}: spec.containers: needs at least one", who);
  }
  for (size_t i = 0; i < containers->size(); ++i) {
    auto c = decodeContainer((*containers)[i], fmt::format("{}: spec.containers[{}]", who, i));
    if (!c) return c.status();
    out.containers.push_back(std::move(*c));
  }
  // Every volumeMount names a volume of the pod.
  for (const auto* list : {&out.init_containers, &out.containers}) {
    for (const auto& c : *list) {
      for (const auto& m : c.volume_mounts) {
        bool known = false;
        for (const auto& v : out.volumes) known = known || v.name == m.name;
        if (!known) {
          return makeError(Code::kInvalidArgument,
                           "{}: container {}: volumeMounts: no volume named \"{}\"", who, c.name,
                           m.name);
        }
      }
    }
  }
  return out;
}

}  // namespace petrel::sandbox
