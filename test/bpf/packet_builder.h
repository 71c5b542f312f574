// PacketBuilder: readable construction of test frames for BPF program tests, e.g.
//   PacketBuilder().eth(src_mac, dst_mac).ipv4("10.0.0.2", "10.0.0.3").tcp(1234, 80)
//       .payload("hi").build();
// Lengths and checksums are filled in by build(). PacketView reads fields back for assertions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace petrel::bpftest {

using Mac = std::array<uint8_t, 6>;
Mac mac(const std::string& text);  // aborts the test binary on a malformed literal

class PacketBuilder {
 public:
  PacketBuilder& eth(const Mac& src, const Mac& dst, uint16_t ethertype = 0);
  PacketBuilder& ipv4(const std::string& src, const std::string& dst, uint8_t ttl = 64);
  PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = 0x02 /* SYN */);
  // The TCP sequence and acknowledgment numbers (default 1 and 0).
  PacketBuilder& tcpSeq(uint32_t seq, uint32_t ack);
  PacketBuilder& udp(uint16_t sport, uint16_t dport);
  PacketBuilder& icmpEcho(uint16_t id, uint16_t seq, uint8_t type = 8 /* request; 0: reply */);
  // An ICMP error (e.g. type 3 code 4, "fragmentation needed" with the next hop's `mtu`)
  // quoting `quoted_ip`: a packet from its IPv4 header on (an error quotes the first 28 bytes).
  PacketBuilder& icmpError(uint8_t type, uint8_t code, const std::vector<uint8_t>& quoted_ip,
                           uint16_t mtu = 0);
  // Marks the packet as a first fragment (MF set).
  PacketBuilder& moreFragments();
  // ARP request "who has target_ip? tell sender_ip".
  PacketBuilder& arpRequest(const Mac& sender_mac, const std::string& sender_ip,
                            const std::string& target_ip);
  PacketBuilder& payload(const std::string& bytes);
  std::vector<uint8_t> build() const;

 private:
  Mac src_{}, dst_{};
  uint16_t ethertype_ = 0;
  bool has_ipv4_ = false;
  uint32_t ip_src_ = 0, ip_dst_ = 0;
  uint8_t ttl_ = 64;
  enum class L4 { kNone, kTcp, kUdp, kIcmp } l4_ = L4::kNone;
  uint16_t sport_ = 0, dport_ = 0;
  uint8_t tcp_flags_ = 0;
  uint32_t tcp_seq_ = 1, tcp_ack_ = 0;
  uint8_t icmp_type_ = 8;
  uint8_t icmp_code_ = 0;
  bool more_fragments_ = false;
  std::vector<uint8_t> arp_;
  std::string payload_;
};

// Internet checksum over `len` bytes (RFC 1071); 0 when the data includes a valid checksum.
uint16_t inetChecksum(const uint8_t* data, size_t len, uint32_t seed = 0);

// Read-only accessors over a built or rewritten Ethernet/IPv4 frame.
struct PacketView {
  const std::vector<uint8_t>& bytes;
  Mac ethSrc() const;
  Mac ethDst() const;
  uint16_t ethertype() const;
  std::string ipSrc() const;
  std::string ipDst() const;
  uint8_t ttl() const;
  uint8_t ipProtocol() const;
  uint16_t ipTotalLength() const;
  bool ipChecksumValid() const;
  // TCP/UDP ports; for ICMP echo both are the identifier.
  uint16_t sport() const;
  uint16_t dport() const;
  uint8_t tcpFlags() const;
  uint32_t tcpSeq() const;
  uint32_t tcpAck() const;
  uint8_t icmpType() const;
  uint8_t icmpCode() const;
  // The TCP/UDP checksum with its pseudo-header, or the ICMP checksum; a UDP checksum of 0
  // (none) counts as valid.
  bool l4ChecksumValid() const;
  // The packet an ICMP error quotes, behind a zeroed Ethernet header, to read with a PacketView.
  std::vector<uint8_t> icmpQuote() const;
  // ARP fields (Ethernet/IPv4 ARP).
  uint16_t arpOp() const;
  Mac arpSenderMac() const;
  std::string arpSenderIp() const;
  Mac arpTargetMac() const;
  std::string arpTargetIp() const;
};

}  // namespace petrel::bpftest
