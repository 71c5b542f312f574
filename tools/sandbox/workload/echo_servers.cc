// TCP greeting+echo and UDP name+echo servers of petrel-workload, one poll loop each.
#include "tools/sandbox/workload/echo_servers.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/unique_fd.h"
#include "tools/sandbox/workload/sockets.h"

namespace petrel::workload {

namespace {

// Echo bytes buffered per connection before we stop reading a peer that does not read.
constexpr size_t kMaxPending = size_t{256} * 1024;
constexpr size_t kMaxDatagram = 65507;  // largest UDP payload over IPv4

struct Connection {
  UniqueFd fd;
  std::string pending;  // bytes still to be written back
  bool peer_closed = false;
  bool broken = false;
};

// Writes what the socket takes now; marks the connection broken on a hard error.
void flush(Connection& c) {
  while (!c.pending.empty()) {
    ssize_t n = ::send(c.fd.get(), c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.pending.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) c.broken = true;
      return;
    }
  }
}

// Reads what is available; an orderly close or a hard error ends reading.
void drain(Connection& c) {
  char buf[16384];
  while (c.pending.size() < kMaxPending) {
    ssize_t n = ::recv(c.fd.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      c.pending.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      c.peer_closed = true;
      return;
    } else if (errno == EINTR) {
      continue;
    } else {
      if (errno != EAGAIN && errno != EWOULDBLOCK) c.broken = true;
      return;
    }
  }
}

void acceptOne(const std::string& name, int listener, std::vector<Connection>& conns) {
  sockaddr_in peer{};
  socklen_t len = sizeof(peer);
  int fd =
      ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;  // the peer gave up already, or EMFILE: try again on the next wakeup
  Connection c{UniqueFd(fd), name + "\n"};
  logLine("tcp " + formatAddr(peer) + " -> " + localAddr(fd) + " connected");
  flush(c);
  conns.push_back(std::move(c));
}

// A sendmsg/recvmsg header for one datagram from or to `peer`.
msghdr datagramHeader(sockaddr_in& peer, iovec& iov, char* control, size_t control_len) {
  msghdr msg{};
  msg.msg_name = &peer;
  msg.msg_namelen = sizeof(peer);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = control_len;
  return msg;
}

}  // namespace

void serveTcpEcho(const std::string& name, int listener, int stop_fd) {
  std::vector<Connection> conns;
  std::vector<pollfd> fds;
  for (;;) {
    fds.assign({{stop_fd, POLLIN, 0}, {listener, POLLIN, 0}});
    for (const Connection& c : conns) {
      short events = 0;
      if (!c.peer_closed && c.pending.size() < kMaxPending) events |= POLLIN;
      if (!c.pending.empty()) events |= POLLOUT;
      fds.push_back({c.fd.get(), events, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      logLine(std::string("tcp: poll: ") + std::strerror(errno));
      return;
    }
    if (fds[0].revents) return;
    for (size_t i = 0; i < conns.size(); ++i) {
      Connection& c = conns[i];
      short revents = fds[i + 2].revents;
      if (revents & (POLLIN | POLLHUP | POLLERR)) drain(c);
      if (revents & (POLLOUT | POLLERR) || !c.pending.empty()) flush(c);
    }
    std::erase_if(conns, [](const Connection& c) {
      return c.broken || (c.peer_closed && c.pending.empty());
    });
    if (fds[1].revents & POLLIN) acceptOne(name, listener, conns);
  }
}

void serveUdpEcho(const std::string& name, int sock, int stop_fd) {
  int yes = 1;
  ::setsockopt(sock, IPPROTO_IP, IP_PKTINFO, &yes, sizeof(yes));
  sockaddr_in local{};
  socklen_t local_len = sizeof(local);
  ::getsockname(sock, reinterpret_cast<sockaddr*>(&local), &local_len);
  std::vector<char> buf(kMaxDatagram + 1);
  for (;;) {
    pollfd fds[] = {{stop_fd, POLLIN, 0}, {sock, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      logLine(std::string("udp: poll: ") + std::strerror(errno));
      return;
    }
    if (fds[0].revents) return;
    if (!(fds[1].revents & POLLIN)) continue;

    sockaddr_in peer{};
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
    msghdr msg = datagramHeader(peer, iov, control, sizeof(control));
    ssize_t n = ::recvmsg(sock, &msg, MSG_DONTWAIT);
    if (n < 0) continue;

    // Answer from the address the datagram was sent to.
    in_pktinfo info{};
    bool have_info = false;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
        std::memcpy(&info, CMSG_DATA(cm), sizeof(info));
        have_info = true;
      }
    }
    std::string reply = name + " ";
    reply.append(buf.data(), static_cast<size_t>(n));
    if (reply.size() > kMaxDatagram) reply.resize(kMaxDatagram);

    iovec out_iov{reply.data(), reply.size()};
    alignas(cmsghdr) char out_control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
    msghdr out = datagramHeader(peer, out_iov, have_info ? out_control : nullptr,
                                have_info ? sizeof(out_control) : 0);
    sockaddr_in dest = local;
    if (have_info) {
      dest.sin_addr = info.ipi_addr;
      cmsghdr* cm = CMSG_FIRSTHDR(&out);
      cm->cmsg_level = IPPROTO_IP;
      cm->cmsg_type = IP_PKTINFO;
      cm->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo src{};
      src.ipi_spec_dst = info.ipi_addr;
      std::memcpy(CMSG_DATA(cm), &src, sizeof(src));
    }
    ssize_t sent = ::sendmsg(sock, &out, MSG_DONTWAIT);
    logLine("udp " + formatAddr(peer) + " -> " + formatAddr(dest) + " " + std::to_string(n) +
            " bytes" +
            (sent < 0 ? std::string(" (reply failed: ") + std::strerror(errno) + ")" : ""));
  }
}

}  // namespace petrel::workload
