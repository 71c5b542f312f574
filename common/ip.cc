// IPv4 address/CIDR and MAC parsing and formatting.
#include "common/ip.h"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

namespace petrel {

std::optional<Ipv4Addr> Ipv4Addr::parse(std::string_view text) {
  if (text.empty() || text.size() > 15) return std::nullopt;
  uint32_t value = 0;
  int parts = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  while (p < end) {
    if (parts == 4) return std::nullopt;
    unsigned octet = 0;
    auto [next, ec] = std::from_chars(p, end, octet);
    if (ec != std::errc() || next == p || octet > 255) return std::nullopt;
    if (next - p > 1 && *p == '0') return std::nullopt;  // no leading zeros (octal ambiguity)
    value = (value << 8) | octet;
    ++parts;
    p = next;
    if (p < end) {
      if (*p != '.' || parts == 4) return std::nullopt;
      ++p;
      if (p == end) return std::nullopt;
    }
  }
  if (parts != 4) return std::nullopt;
  return Ipv4Addr{value};
}

Ipv4Addr Ipv4Addr::fromNetwork(uint32_t be) {
  return Ipv4Addr{ntohl(be)};
}
uint32_t Ipv4Addr::toNetwork() const {
  return htonl(value);
}

std::string Ipv4Addr::toString() const {
  return fmt::format("{}.{}.{}.{}", value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff,
                     value & 0xff);
}

std::optional<Ipv4Cidr> Ipv4Cidr::parse(std::string_view text, bool allow_host_bits) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = Ipv4Addr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  auto len_text = text.substr(slash + 1);
  unsigned len = 0;
  auto [next, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || next != len_text.data() + len_text.size() || len_text.empty() ||
      len > 32)
    return std::nullopt;
  Ipv4Cidr cidr;
  cidr.prefix_len = static_cast<uint8_t>(len);
  cidr.base = Ipv4Addr{addr->value & cidr.mask()};
  if (!allow_host_bits && cidr.base != *addr) return std::nullopt;
  return cidr;
}

uint32_t Ipv4Cidr::mask() const {
  return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len);
}

bool Ipv4Cidr::contains(Ipv4Addr addr) const {
  return (addr.value & mask()) == base.value;
}

std::string Ipv4Cidr::toString() const {
  return fmt::format("{}/{}", base.toString(), prefix_len);
}

bool parseMac(std::string_view text, uint8_t out[6]) {
  if (text.size() != 17) return false;
  for (int i = 0; i < 6; ++i) {
    if (i < 5 && text[i * 3 + 2] != ':') return false;
    unsigned byte = 0;
    auto [next, ec] = std::from_chars(text.data() + i * 3, text.data() + i * 3 + 2, byte, 16);
    if (ec != std::errc() || next != text.data() + i * 3 + 2) return false;
    out[i] = static_cast<uint8_t>(byte);
  }
  return true;
}

std::string formatMac(const uint8_t mac[6]) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

}  // namespace petrel
