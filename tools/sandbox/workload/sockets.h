// Socket helpers shared by petrel-workload's listeners: binding a port with an error that names
// it, "ip:port" formatting, and the one-line-per-request log on stdout.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "common/status.h"
#include "common/unique_fd.h"

namespace petrel::workload {

// A socket of `type` (SOCK_STREAM listening, or SOCK_DGRAM) bound to bind:port, with
// SO_REUSEADDR for TCP only and never SO_REUSEPORT, so a port that another socket holds fails with
// "port 8080 in use: Address already in use". The caller owns the returned descriptor.
Result<UniqueFd> bindSocket(int type, const std::string& bind, uint16_t port);

// "10.0.0.1:8080".
std::string formatAddr(const sockaddr_in& addr);
// The local address of a connected or bound socket, "" on error.
std::string localAddr(int fd);

// Writes `line` and a newline to stdout and flushes; safe from any thread.
void logLine(const std::string& line);

}  // namespace petrel::workload
