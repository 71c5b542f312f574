// PacketBuilder and PacketView implementation.
#include "test/bpf/packet_builder.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "common/ip.h"

namespace petrel::bpftest {

namespace {
uint32_t ip(const std::string& text) {
  auto a = Ipv4Addr::parse(text);
  if (!a) {
    std::cerr << "packet builder: bad IPv4 literal " << text << "\n";
    std::abort();
  }
  return a->value;
}
void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(v >> 8);
  b.push_back(v & 0xff);
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xffff);
}
void set16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = v >> 8;
  b[at + 1] = v & 0xff;
}
uint16_t get16(const std::vector<uint8_t>& b, size_t at) {
  return uint16_t(b.at(at) << 8 | b.at(at + 1));
}
std::string ipAt(const std::vector<uint8_t>& b, size_t at) {
  return Ipv4Addr{uint32_t(b.at(at)) << 24 | uint32_t(b.at(at + 1)) << 16 |
                  uint32_t(b.at(at + 2)) << 8 | b.at(at + 3)}
      .toString();
}
Mac macAt(const std::vector<uint8_t>& b, size_t at) {
  Mac m{};
  for (size_t i = 0; i < 6; ++i) m[i] = b.at(at + i);
  return m;
}
constexpr size_t kEth = 14;
}  // namespace

Mac mac(const std::string& text) {
  Mac m{};
  if (!parseMac(text, m.data())) {
    std::cerr << "packet builder: bad MAC literal " << text << "\n";
    std::abort();
  }
  return m;
}

uint16_t inetChecksum(const uint8_t* data, size_t len, uint32_t seed) {
  uint32_t sum = seed;
  for (size_t i = 0; i + 1 < len; i += 2) sum += uint32_t(data[i] << 8 | data[i + 1]);
  if (len & 1) sum += uint32_t(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

PacketBuilder& PacketBuilder::eth(const Mac& src, const Mac& dst, uint16_t ethertype) {
  src_ = src;
  dst_ = dst;
  ethertype_ = ethertype;
  return *this;
}
PacketBuilder& PacketBuilder::ipv4(const std::string& src, const std::string& dst, uint8_t ttl) {
  has_ipv4_ = true;
  ip_src_ = ip(src);
  ip_dst_ = ip(dst);
  ttl_ = ttl;
  if (!ethertype_) ethertype_ = 0x0800;
  return *this;
}
PacketBuilder& PacketBuilder::tcp(uint16_t sport, uint16_t dport, uint8_t flags) {
  l4_ = L4::kTcp;
  sport_ = sport;
  dport_ = dport;
  tcp_flags_ = flags;
  return *this;
}
PacketBuilder& PacketBuilder::tcpSeq(uint32_t seq, uint32_t ack) {
  tcp_seq_ = seq;
  tcp_ack_ = ack;
  return *this;
}
PacketBuilder& PacketBuilder::udp(uint16_t sport, uint16_t dport) {
  l4_ = L4::kUdp;
  sport_ = sport;
  dport_ = dport;
  return *this;
}
PacketBuilder& PacketBuilder::icmpEcho(uint16_t id, uint16_t seq, uint8_t type) {
  l4_ = L4::kIcmp;
  icmp_type_ = type;
  sport_ = id;
  dport_ = seq;
  return *this;
}
PacketBuilder& PacketBuilder::icmpError(uint8_t type, uint8_t code,
                                        const std::vector<uint8_t>& quoted_ip, uint16_t mtu) {
  l4_ = L4::kIcmp;
  icmp_type_ = type;
  icmp_code_ = code;
  sport_ = 0;  // unused
  dport_ = mtu;
  payload_.assign(quoted_ip.begin(), quoted_ip.end());
  return *this;
}
PacketBuilder& PacketBuilder::moreFragments() {
  more_fragments_ = true;
  return *this;
}
PacketBuilder& PacketBuilder::arpRequest(const Mac& sender_mac, const std::string& sender_ip,
                                         const std::string& target_ip) {
  if (!ethertype_) ethertype_ = 0x0806;
  arp_.clear();
  put16(arp_, 1);       // Ethernet
  put16(arp_, 0x0800);  // IPv4
  arp_.push_back(6);
  arp_.push_back(4);
  put16(arp_, 1);  // request
  arp_.insert(arp_.end(), sender_mac.begin(), sender_mac.end());
  put32(arp_, ip(sender_ip));
  for (int i = 0; i < 6; ++i) arp_.push_back(0);
  put32(arp_, ip(target_ip));
  return *this;
}
PacketBuilder& PacketBuilder::payload(const std::string& bytes) {
  payload_ = bytes;
  return *this;
}

std::vector<uint8_t> PacketBuilder::build() const {
  std::vector<uint8_t> b(dst_.begin(), dst_.end());
  b.insert(b.end(), src_.begin(), src_.end());
  put16(b, ethertype_);
  if (!arp_.empty()) {
    b.insert(b.end(), arp_.begin(), arp_.end());
    return b;
  }
  if (!has_ipv4_) {
    b.insert(b.end(), payload_.begin(), payload_.end());
    return b;
  }
  std::vector<uint8_t> l4;
  uint8_t proto = 0;
  switch (l4_) {
    case L4::kTcp:
      proto = 6;
      put16(l4, sport_);
      put16(l4, dport_);
      put32(l4, tcp_seq_);
      put32(l4, tcp_ack_);
      l4.push_back(5 << 4);
      l4.push_back(tcp_flags_);
      put16(l4, 65535);
      put16(l4, 0);
      put16(l4, 0);
      break;
    case L4::kUdp:
      proto = 17;
      put16(l4, sport_);
      put16(l4, dport_);
      put16(l4, uint16_t(8 + payload_.size()));
      put16(l4, 0);
      break;
    case L4::kIcmp:
      proto = 1;
      l4.push_back(icmp_type_);
      l4.push_back(icmp_code_);
      put16(l4, 0);
      put16(l4, sport_);
      put16(l4, dport_);
      break;
    case L4::kNone:
      proto = 253;  // experimental
      break;
  }
  l4.insert(l4.end(), payload_.begin(), payload_.end());
  if (l4_ == L4::kIcmp) set16(l4, 2, inetChecksum(l4.data(), l4.size()));
  if (l4_ == L4::kTcp || l4_ == L4::kUdp) {
    uint32_t pseudo = (ip_src_ >> 16) + (ip_src_ & 0xffff) + (ip_dst_ >> 16) + (ip_dst_ & 0xffff) +
                      proto + uint32_t(l4.size());
    set16(l4, l4_ == L4::kTcp ? 16 : 6, inetChecksum(l4.data(), l4.size(), pseudo));
  }
  std::vector<uint8_t> iph;
  iph.push_back(0x45);
  iph.push_back(0);
  put16(iph, uint16_t(20 + l4.size()));
  put16(iph, 0x1234);
  put16(iph, more_fragments_ ? 0x2000 : 0x4000);  // MF or DF
  iph.push_back(ttl_);
  iph.push_back(proto);
  put16(iph, 0);
  put32(iph, ip_src_);
  put32(iph, ip_dst_);
  set16(iph, 10, inetChecksum(iph.data(), iph.size()));
  b.insert(b.end(), iph.begin(), iph.end());
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

Mac PacketView::ethDst() const {
  return macAt(bytes, 0);
}
Mac PacketView::ethSrc() const {
  return macAt(bytes, 6);
}
uint16_t PacketView::ethertype() const {
  return get16(bytes, 12);
}
std::string PacketView::ipSrc() const {
  return ipAt(bytes, kEth + 12);
}
std::string PacketView::ipDst() const {
  return ipAt(bytes, kEth + 16);
}
uint8_t PacketView::ttl() const {
  return bytes.at(kEth + 8);
}
uint8_t PacketView::ipProtocol() const {
  return bytes.at(kEth + 9);
}
uint16_t PacketView::ipTotalLength() const {
  return get16(bytes, kEth + 2);
}
bool PacketView::ipChecksumValid() const {
  size_t ihl = (bytes.at(kEth) & 0x0f) * 4u;
  return bytes.size() >= kEth + ihl && inetChecksum(bytes.data() + kEth, ihl) == 0;
}
namespace {
size_t l4Offset(const std::vector<uint8_t>& b) {
  return kEth + (b.at(kEth) & 0x0f) * 4u;
}
}  // namespace
uint16_t PacketView::sport() const {
  size_t l4 = l4Offset(bytes);
  return get16(bytes, bytes.at(kEth + 9) == 1 ? l4 + 4 : l4);
}
uint16_t PacketView::dport() const {
  size_t l4 = l4Offset(bytes);
  return get16(bytes, bytes.at(kEth + 9) == 1 ? l4 + 4 : l4 + 2);
}
uint8_t PacketView::tcpFlags() const {
  return bytes.at(l4Offset(bytes) + 13);
}
uint32_t PacketView::tcpSeq() const {
  size_t l4 = l4Offset(bytes);
  return uint32_t(get16(bytes, l4 + 4)) << 16 | get16(bytes, l4 + 6);
}
uint32_t PacketView::tcpAck() const {
  size_t l4 = l4Offset(bytes);
  return uint32_t(get16(bytes, l4 + 8)) << 16 | get16(bytes, l4 + 10);
}
uint8_t PacketView::icmpType() const {
  return bytes.at(l4Offset(bytes));
}
uint8_t PacketView::icmpCode() const {
  return bytes.at(l4Offset(bytes) + 1);
}
bool PacketView::l4ChecksumValid() const {
  size_t l4 = l4Offset(bytes);
  uint8_t proto = bytes.at(kEth + 9);
  size_t len = kEth + get16(bytes, kEth + 2) - l4;
  if (l4 + len > bytes.size()) return false;
  if (proto == 1) return inetChecksum(bytes.data() + l4, len) == 0;
  if (proto == 17 && get16(bytes, l4 + 6) == 0) return true;
  uint32_t src = uint32_t(get16(bytes, kEth + 12)) + get16(bytes, kEth + 14);
  uint32_t dst = uint32_t(get16(bytes, kEth + 16)) + get16(bytes, kEth + 18);
  return inetChecksum(bytes.data() + l4, len, src + dst + proto + uint32_t(len)) == 0;
}
uint16_t PacketView::arpOp() const {
  return get16(bytes, kEth + 6);
}
Mac PacketView::arpSenderMac() const {
  return macAt(bytes, kEth + 8);
}
std::string PacketView::arpSenderIp() const {
  return ipAt(bytes, kEth + 14);
}
Mac PacketView::arpTargetMac() const {
  return macAt(bytes, kEth + 18);
}
std::string PacketView::arpTargetIp() const {
  return ipAt(bytes, kEth + 24);
}

std::vector<uint8_t> PacketView::icmpQuote() const {
  const size_t quote = l4Offset(bytes) + 8;  // after the ICMP header
  std::vector<uint8_t> frame(kEth, 0);
  if (quote < bytes.size()) frame.insert(frame.end(), bytes.begin() + quote, bytes.end());
  return frame;
}

}  // namespace petrel::bpftest
