// IPv4 address and CIDR value types with parsing and formatting. Addresses are kept in host byte
// order in `value`; toNetwork() gives the __be32 the datapath stores.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace petrel {

struct Ipv4Addr {
  uint32_t value = 0;  // host byte order

  static std::optional<Ipv4Addr> parse(std::string_view text);
  static Ipv4Addr fromNetwork(uint32_t be);
  uint32_t toNetwork() const;
  std::string toString() const;
  auto operator<=>(const Ipv4Addr&) const = default;
};

struct Ipv4Cidr {
  Ipv4Addr base;  // network address (host bits cleared)
  uint8_t prefix_len = 0;

  // Accepts "10.244.0.0/24"; host bits set ("10.244.0.5/24") are rejected unless allow_host_bits.
  static std::optional<Ipv4Cidr> parse(std::string_view text, bool allow_host_bits = false);
  uint32_t mask() const;  // host byte order
  bool contains(Ipv4Addr addr) const;
  uint64_t size() const { return uint64_t{1} << (32 - prefix_len); }
  Ipv4Addr at(uint64_t offset) const {
    return Ipv4Addr{static_cast<uint32_t>(base.value + offset)};
  }
  std::string toString() const;
  auto operator<=>(const Ipv4Cidr&) const = default;
};

// Parses "aa:bb:cc:dd:ee:ff" into 6 bytes; false if malformed.
bool parseMac(std::string_view text, uint8_t out[6]);
std::string formatMac(const uint8_t mac[6]);

}  // namespace petrel
