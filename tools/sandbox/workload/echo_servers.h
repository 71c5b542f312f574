// petrel-workload's TCP and UDP listeners. Each runs on the calling thread until `stop_fd`
// (an eventfd that main makes readable once, on SIGTERM/SIGINT) becomes readable.
#pragma once

#include <string>

namespace petrel::workload {

// TCP: every accepted connection first gets "<name>\n", then every byte the peer sends is
// echoed back until it closes. Connections are served by one poll loop with per-connection
// output buffers, so a slow reader never stalls the others. `listener` is listening and owned
// by the caller.
void serveTcpEcho(const std::string& name, int listener, int stop_fd);

// UDP: each datagram is answered with "<name> " followed by its payload, sent from the address
// the datagram was addressed to (IP_PKTINFO), so replies match the request's flow even when
// bound to 0.0.0.0. `sock` is bound and owned by the caller.
void serveUdpEcho(const std::string& name, int sock, int stop_fd);

}  // namespace petrel::workload
