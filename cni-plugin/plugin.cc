// Plugin: ADD/DEL/CHECK/STATUS/GC/VERSION. ADD releases what it took when a later step fails;
// DEL is idempotent and best effort; CHECK compares prevResult with the agent and the kernel.
#include "cni-plugin/plugin.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <fmt/format.h>

#include "cni-plugin/result.h"

namespace petrel::cni {
namespace {

using nlohmann::json;

// The cniVersion to answer with when the config could not be parsed.
std::string bestEffortVersion(std::string_view stdin_text) {
  json conf = json::parse(stdin_text, nullptr, false);
  if (conf.is_object() && conf.contains("cniVersion") && conf["cniVersion"].is_string()) {
    std::string v = conf["cniVersion"].get<std::string>();
    if (isSupportedVersion(v)) return v;
  }
  return kLatestVersion;
}

// Errors from opening CNI_NETNS. A missing path or a file that is not a network namespace is a
// bad CNI_NETNS value, i.e. spec code 4 ("invalid necessary environment variables").
CniError netnsError(const Status& s, const std::string& path) {
  if (s.code() == Code::kNotFound) {
    return {kErrInvalidEnv,
            fmt::format("CNI_NETNS {} does not exist; the runtime must create the pod's network "
                        "namespace before ADD/CHECK",
                        path),
            s.message()};
  }
  if (s.code() == Code::kInvalidArgument) {
    return {kErrInvalidEnv,
            fmt::format("CNI_NETNS {} is not a network namespace; pass a netns path such as "
                        "/var/run/netns/<name> or /proc/<pid>/ns/net",
                        path),
            s.message()};
  }
  return {kErrInternal, fmt::format("cannot open CNI_NETNS {}: {}", path, s.message()), ""};
}

// CNI_IFNAME already present in the pod netns. The runtime handed us an interface name that is
// not free in this container: we report it as spec code 4 (the CNI_IFNAME value is invalid for
// this container) rather than a generic failure, and never touch the existing interface.
CniError ifnameTakenError(const std::string& ifname, const std::string& netns) {
  return {kErrInvalidEnv,
          fmt::format("interface {} already exists in netns {}; pick another CNI_IFNAME or run "
                      "DEL for the attachment that owns it",
                      ifname, netns),
          ""};
}

Attachment attachmentOf(const CniEnv& env) {
  return {env.container_id, env.ifname};
}

void fillRef(const Attachment& a, apiv1::AttachmentRef* ref) {
  ref->set_container_id(a.container_id);
  ref->set_ifname(a.ifname);
}

void fillPod(const CniArgs& args, apiv1::PodRef* pod) {
  pod->set_namespace_(args.pod_namespace);
  pod->set_name(args.pod_name);
  pod->set_uid(args.pod_uid);
}

}  // namespace

void Plugin::setUpLogging(const NetConf& conf) {
  if (!conf.log_file.empty()) {
    try {
      auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(conf.log_file);
      log_ = std::make_shared<spdlog::logger>("petrel-cni", sink);
      log_->set_level(spdlog::level::info);
      log_->flush_on(spdlog::level::info);
      return;
    } catch (const spdlog::spdlog_ex&) {
      // fall through to stderr
    }
  }
  log_ = std::make_shared<spdlog::logger>("petrel-cni",
                                          std::make_shared<spdlog::sinks::stderr_sink_mt>());
  log_->set_level(spdlog::level::warn);
}

Outcome Plugin::fail(const CniError& error, const std::string& version) {
  if (log_) {
    log_->error("code {}: {}{}", error.code, error.msg,
                error.details.empty() ? "" : " (" + error.details + ")");
  }
  // The code travels in the JSON; the exit status only has to be non-zero and fit in 8 bits.
  int exit_code = error.code > 0 && error.code < 256 ? error.code : 1;
  return {exit_code, dumpJson(errorJson(error, version))};
}

Outcome Plugin::run(const GetEnv& getenv_fn, std::string_view stdin_text) {
  const char* cmd = getenv_fn("CNI_COMMAND");
  if (cmd != nullptr && std::string_view(cmd) == "VERSION") {
    return {0, dumpJson(versionJson(bestEffortVersion(stdin_text)))};
  }
  auto env = readCniEnv(getenv_fn);
  if (!env.ok()) return fail(env.error(), bestEffortVersion(stdin_text));
  auto conf = parseNetConf(stdin_text);
  if (!conf.ok()) return fail(conf.error(), bestEffortVersion(stdin_text));
  setUpLogging(*conf);
  const std::string& command = env->command;
  log_->info("{} container={} ifname={} netns={}", command, env->container_id, env->ifname,
             env->netns);
  if (command == "ADD") return add(*env, *conf);
  if (command == "DEL") return del(*env, *conf);
  if (command == "CHECK") return check(*env, *conf);
  if (command == "STATUS") return status(*conf);
  return gc(*conf);  // readCniEnv accepted only known commands
}

void Plugin::rollback(AgentClient& agent, const Attachment& attachment,
                      const std::string& host_ifname) {
  auto released = agent.deleteEndpoint(attachment);
  if (!released.ok()) {
    log_->warn("rollback: DeleteEndpoint {}/{}: {}; the agent's GC will release it",
               attachment.container_id, attachment.ifname, released.error().msg);
  }
  if (Status s = network_.deleteHostVeth(host_ifname); !s.isOk()) {
    log_->warn("rollback: delete {}: {}", host_ifname, s.toString());
  }
}

Outcome Plugin::add(const CniEnv& env, const NetConf& conf) {
  const std::string& version = conf.cni_version;
  if (Status s = network_.openNetns(env.netns); !s.isOk()) {
    return fail(netnsError(s, env.netns), version);
  }
  auto exists = network_.podInterfaceExists(env.ifname);
  if (!exists.isOk()) {
    return fail(
        {kErrInternal, "cannot list interfaces in " + env.netns, exists.status().toString()},
        version);
  }
  if (*exists) return fail(ifnameTakenError(env.ifname, env.netns), version);

  AgentClient agent(conf.agent_socket, rpc_deadline_);
  const Attachment attachment = attachmentOf(env);
  const std::string host_ifname = hostVethName(env.container_id, env.ifname);

  apiv1::AllocateIpRequest alloc_req;
  fillRef(attachment, alloc_req.mutable_attachment());
  fillPod(env.args, alloc_req.mutable_pod());
  alloc_req.set_netns(env.netns);
  auto alloc = agent.allocateIp(alloc_req);
  if (!alloc.ok()) {
    // A timed-out AllocateIp may still have allocated on the agent: release best effort.
    if (!agent.lastCallUnreachable()) rollback(agent, attachment, host_ifname);
    return fail(alloc.error(), version);
  }

  PodNetworkRequest req;
  req.host_ifname = host_ifname;
  req.temp_peer_name = tempPeerName(env.container_id, env.ifname);
  req.pod_ifname = env.ifname;
  req.mtu = conf.mtu.value_or(alloc->mtu() != 0 ? alloc->mtu() : 1500);
  auto ip = Ipv4Addr::parse(alloc->ip());
  auto gateway = Ipv4Addr::parse(alloc->gateway());
  if (!alloc->gateway_mac().empty()) {
    MacAddr mac{};
    if (parseMac(alloc->gateway_mac(), mac.data())) req.gateway_mac = mac;
  }
  if (!ip || !gateway) {
    rollback(agent, attachment, host_ifname);
    return fail({kErrInternal,
                 fmt::format("petrel-agent answered AllocateIp with ip \"{}\" gateway \"{}\"; "
                             "report this as an agent bug",
                             alloc->ip(), alloc->gateway()),
                 ""},
                version);
  }
  req.ip = *ip;
  req.gateway = *gateway;

  auto info = network_.setUp(req);
  if (!info.isOk()) {
    rollback(agent, attachment, host_ifname);
    if (info.status().code() == Code::kAlreadyExists) {
      return fail(ifnameTakenError(env.ifname, env.netns), version);
    }
    return fail(
        {kErrInternal, "cannot set up the pod's veth " + host_ifname, info.status().toString()},
        version);
  }

  apiv1::CreateEndpointRequest ep_req;
  fillRef(attachment, ep_req.mutable_attachment());
  fillPod(env.args, ep_req.mutable_pod());
  ep_req.set_netns(env.netns);
  ep_req.set_ip(ip->toString());
  ep_req.set_host_ifname(host_ifname);
  ep_req.set_host_ifindex(static_cast<uint32_t>(info->host_ifindex));
  ep_req.set_host_mac(formatMac(info->host_mac.data()));
  ep_req.set_pod_mac(formatMac(info->pod_mac.data()));
  auto endpoint = agent.createEndpoint(ep_req);
  if (!endpoint.ok()) {
    rollback(agent, attachment, host_ifname);
    return fail(endpoint.error(), version);
  }

  // The pod may have been torn down while we worked; a result for a dead netns would leak.
  if (Status s = network_.netnsStillAlive(); !s.isOk()) {
    rollback(agent, attachment, host_ifname);
    return fail({kErrUnknownContainer,
                 fmt::format("the pod's netns {} went away during ADD; everything was rolled "
                             "back, nothing to clean up",
                             env.netns),
                 s.message()},
                version);
  }

  AddResult result;
  result.host_ifname = host_ifname;
  result.host_mac = info->host_mac;
  result.pod_ifname = env.ifname;
  result.pod_mac = info->pod_mac;
  result.sandbox = env.netns;
  result.mtu = req.mtu;
  result.ip = *ip;
  result.gateway = *gateway;
  log_->info("ADD {}/{}: {} on {}", env.container_id, env.ifname, ip->toString(), host_ifname);
  return {0, dumpJson(addResultJson(result, version))};
}

Outcome Plugin::del(const CniEnv& env, const NetConf& conf) {
  const Attachment attachment = attachmentOf(env);
  AgentClient agent(conf.agent_socket, rpc_deadline_);
  auto deleted = agent.deleteEndpoint(attachment);
  if (!deleted.ok()) {
    log_->warn("DEL {}/{}: {} (the agent's GC releases the endpoint later)", env.container_id,
               env.ifname, deleted.error().msg);
  }
  const std::string host_ifname = hostVethName(env.container_id, env.ifname);
  if (Status s = network_.deleteHostVeth(host_ifname); !s.isOk()) {
    return fail(
        {kErrInternal, "cannot delete host veth " + host_ifname + "; retry DEL", s.toString()},
        conf.cni_version);
  }
  if (!env.netns.empty() && network_.openNetns(env.netns).isOk()) {
    if (Status s = network_.deletePodInterface(env.ifname); !s.isOk()) {
      log_->warn("DEL: delete {} in {}: {}", env.ifname, env.netns, s.toString());
    }
  }
  return {0, ""};
}

Outcome Plugin::check(const CniEnv& env, const NetConf& conf) {
  const std::string& version = conf.cni_version;
  if (!versionAtLeast(version, "0.4.0")) {
    return fail({kErrIncompatibleVersion,
                 "CHECK needs cniVersion 0.4.0 or later; config has " + version, ""},
                version);
  }
  if (!conf.prev_result) {
    return fail({kErrInvalidConfig, "CHECK needs prevResult in the network config", ""}, version);
  }
  auto prev = parsePrevResult(*conf.prev_result);
  if (!prev.ok()) return fail(prev.error(), version);
  if (Status s = network_.openNetns(env.netns); !s.isOk()) {
    return fail(netnsError(s, env.netns), version);
  }
  auto mismatch = [&](const std::string& what) {
    return fail({kErrInternal,
                 fmt::format("CHECK {}/{}: {}; delete and re-create the pod", env.container_id,
                             env.ifname, what),
                 ""},
                version);
  };
  const std::string host_ifname = hostVethName(env.container_id, env.ifname);
  if (prev->host_ifname != host_ifname) {
    return mismatch("prevResult host interface " + prev->host_ifname + " is not " + host_ifname);
  }
  if (prev->pod_ifname != env.ifname) {
    return mismatch("prevResult pod interface " + prev->pod_ifname + " is not CNI_IFNAME");
  }
  AgentClient agent(conf.agent_socket, rpc_deadline_);
  auto endpoint = agent.getEndpoint(attachmentOf(env));
  if (!endpoint.ok()) return fail(endpoint.error(), version);
  if (!endpoint->has_value()) return mismatch("petrel-agent has no endpoint for it");
  const apiv1::Endpoint& ep = **endpoint;
  if (ep.ip() != prev->ip.toString()) {
    return mismatch("agent has ip " + ep.ip() + ", prevResult " + prev->ip.toString());
  }
  if (ep.host_ifname() != host_ifname) {
    return mismatch("agent has host interface " + ep.host_ifname());
  }
  auto live = network_.inspect(host_ifname, env.ifname);
  if (!live.isOk()) return mismatch("cannot inspect interfaces: " + live.status().toString());
  if (!live->host_exists) return mismatch("host veth " + host_ifname + " is missing");
  if (!live->pod_exists) return mismatch("interface " + env.ifname + " is missing in the netns");
  bool has_ip = false;
  for (const AddrInfo& a : live->pod_addrs) {
    has_ip |= a.addr == prev->ip && a.prefix_len == 32;
  }
  if (!has_ip) return mismatch(env.ifname + " does not carry " + prev->ip.toString() + "/32");
  return {0, ""};
}

Outcome Plugin::status(const NetConf& conf) {
  AgentClient agent(conf.agent_socket, rpc_deadline_);
  auto st = agent.status();
  if (!st.ok()) {
    return fail({kErrPluginNotAvailable, st.error().msg, st.error().details}, conf.cni_version);
  }
  if (!st->ready()) {
    return fail(
        {kErrPluginNotAvailable,
         fmt::format("petrel-agent is not ready: {}; wait for it or check its log", st->message()),
         ""},
        conf.cni_version);
  }
  return {0, ""};
}

Outcome Plugin::gc(const NetConf& conf) {
  AgentClient agent(conf.agent_socket, rpc_deadline_);
  auto released = agent.garbageCollect(conf.valid_attachments);
  if (!released.ok()) return fail(released.error(), conf.cni_version);
  for (const Attachment& a : *released) {
    std::string name = hostVethName(a.container_id, a.ifname);
    if (Status s = network_.deleteHostVeth(name); !s.isOk()) {
      log_->warn("GC: delete {}: {}", name, s.toString());
    }
  }
  return {0, ""};
}

}  // namespace petrel::cni
