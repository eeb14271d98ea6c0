#include "core/boot/aml.h"

#include <stdexcept>
#include <string>

namespace bulkhead::boot::aml {
namespace {

constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0A;
constexpr uint8_t kWordPrefix = 0x0B;
constexpr uint8_t kDWordPrefix = 0x0C;
constexpr uint8_t kStringPrefix = 0x0D;
constexpr uint8_t kQWordPrefix = 0x0E;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kDualNamePrefix = 0x2E;
constexpr uint8_t kMultiNamePrefix = 0x2F;
constexpr uint8_t kExtOpPrefix = 0x5B;
constexpr uint8_t kDeviceOp = 0x82;
constexpr uint8_t kRootChar = '\\';
constexpr uint8_t kParentPrefixChar = '^';

// Resource descriptor tags.
constexpr uint8_t kIoPortDescriptor = 0x47;  // small item 0x08, length 7
constexpr uint8_t kIrqDescriptor = 0x22;     // small item 0x04, length 2
constexpr uint8_t kEndTag = 0x79;            // small item 0x0F, length 1
constexpr uint8_t kDWordAddressSpace = 0x87;
constexpr uint8_t kWordAddressSpace = 0x88;
constexpr uint8_t kQWordAddressSpace = 0x8A;
constexpr uint8_t kResourceTypeMemory = 0;
constexpr uint8_t kResourceTypeIo = 1;
constexpr uint8_t kResourceTypeBus = 2;
// General flags: producer (bit 0 clear), positive decode, MinFixed, MaxFixed.
constexpr uint8_t kProducerFixed = (1 << 2) | (1 << 3);

void Append(Bytes& out, const Bytes& in) { out.insert(out.end(), in.begin(), in.end()); }

template <class T>
void AppendLe(Bytes& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

bool IsLeadNameChar(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsLeadNameChar(c) || (c >= '0' && c <= '9'); }

void AppendSegment(Bytes& out, std::string_view seg) {
  if (seg.empty() || seg.size() > 4 || !IsLeadNameChar(seg[0])) {
    throw std::invalid_argument("bad AML name segment '" + std::string(seg) + "'");
  }
  for (size_t i = 0; i < 4; ++i) {
    const char c = i < seg.size() ? seg[i] : '_';
    if (!IsNameChar(c))
      throw std::invalid_argument("bad AML name segment '" + std::string(seg) + "'");
    out.push_back(static_cast<uint8_t>(c));
  }
}

// Wraps `content` as <op bytes> PkgLength <content>.
Bytes WithPkgLength(std::initializer_list<uint8_t> op, const Bytes& content) {
  Bytes out(op);
  Append(out, PkgLength(content.size()));
  Append(out, content);
  return out;
}

Bytes AddressSpace(uint8_t tag, uint8_t resource_type, uint8_t type_flags, int width, uint64_t min,
                   uint64_t max) {
  Bytes body;
  body.push_back(resource_type);
  body.push_back(kProducerFixed);
  body.push_back(type_flags);
  const uint64_t fields[] = {0 /*granularity*/, min, max, 0 /*translation*/, max - min + 1};
  for (uint64_t f : fields) {
    for (int i = 0; i < width; ++i) body.push_back(static_cast<uint8_t>(f >> (8 * i)));
  }
  Bytes out{tag};
  AppendLe<uint16_t>(out, static_cast<uint16_t>(body.size()));
  Append(out, body);
  return out;
}

}  // namespace

Bytes PkgLength(size_t n) {
  // The encoded length counts the PkgLength bytes themselves: one byte holds
  // up to 63, otherwise the lead byte's low nibble plus 1-3 bytes follow.
  if (n + 1 <= 0x3F) return {static_cast<uint8_t>(n + 1)};
  for (size_t extra = 1; extra <= 3; ++extra) {
    const size_t total = n + 1 + extra;
    if (total < (size_t{1} << (4 + 8 * extra))) {
      Bytes out{static_cast<uint8_t>((extra << 6) | (total & 0xF))};
      for (size_t i = 0; i < extra; ++i) out.push_back(static_cast<uint8_t>(total >> (4 + 8 * i)));
      return out;
    }
  }
  throw std::invalid_argument("AML package longer than 2^28 bytes");
}

Bytes NameString(std::string_view path) {
  Bytes out;
  if (!path.empty() && path[0] == kRootChar) {
    out.push_back(kRootChar);
    path.remove_prefix(1);
  } else {
    while (!path.empty() && path[0] == kParentPrefixChar) {
      out.push_back(kParentPrefixChar);
      path.remove_prefix(1);
    }
  }
  std::vector<std::string_view> segs;
  while (!path.empty()) {
    const size_t dot = path.find('.');
    segs.push_back(path.substr(0, dot));
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
    if (path.empty()) throw std::invalid_argument("AML name ends with '.'");
  }
  if (segs.empty()) {
    out.push_back(0x00);  // NullName
  } else if (segs.size() == 2) {
    out.push_back(kDualNamePrefix);
  } else if (segs.size() > 2) {
    if (segs.size() > 255) throw std::invalid_argument("AML name has too many segments");
    out.push_back(kMultiNamePrefix);
    out.push_back(static_cast<uint8_t>(segs.size()));
  }
  for (auto s : segs) AppendSegment(out, s);
  return out;
}

Bytes Integer(uint64_t v) {
  Bytes out;
  if (v == 0) return {kZeroOp};
  if (v == 1) return {kOneOp};
  if (v <= 0xFF) {
    out.push_back(kBytePrefix);
    AppendLe<uint8_t>(out, static_cast<uint8_t>(v));
  } else if (v <= 0xFFFF) {
    out.push_back(kWordPrefix);
    AppendLe<uint16_t>(out, static_cast<uint16_t>(v));
  } else if (v <= 0xFFFF'FFFF) {
    out.push_back(kDWordPrefix);
    AppendLe<uint32_t>(out, static_cast<uint32_t>(v));
  } else {
    out.push_back(kQWordPrefix);
    AppendLe<uint64_t>(out, v);
  }
  return out;
}

Bytes DWord(uint32_t v) {
  Bytes out{kDWordPrefix};
  AppendLe<uint32_t>(out, v);
  return out;
}

Bytes String(std::string_view s) {
  Bytes out{kStringPrefix};
  for (char c : s) {
    if (c == 0 || static_cast<unsigned char>(c) > 0x7F) {
      throw std::invalid_argument("AML string must be 7-bit ASCII without NUL");
    }
    out.push_back(static_cast<uint8_t>(c));
  }
  out.push_back(0);
  return out;
}

uint32_t EisaIdValue(std::string_view id) {
  auto hex = [&](char c) -> uint32_t {
    if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0');
    if (c >= 'A' && c <= 'F') return static_cast<uint32_t>(c - 'A' + 10);
    throw std::invalid_argument("bad EISA ID '" + std::string(id) + "'");
  };
  if (id.size() != 7) throw std::invalid_argument("bad EISA ID '" + std::string(id) + "'");
  for (size_t i = 0; i < 3; ++i) {
    if (id[i] < 'A' || id[i] > 'Z')
      throw std::invalid_argument("bad EISA ID '" + std::string(id) + "'");
  }
  // Three 5-bit letters ('A' = 1) and four hex digits, stored big-endian.
  const uint32_t vendor = (static_cast<uint32_t>(id[0] - '@') << 10) |
                          (static_cast<uint32_t>(id[1] - '@') << 5) |
                          static_cast<uint32_t>(id[2] - '@');
  const uint32_t product = (hex(id[3]) << 12) | (hex(id[4]) << 8) | (hex(id[5]) << 4) | hex(id[6]);
  const uint8_t bytes[4] = {static_cast<uint8_t>(vendor >> 8), static_cast<uint8_t>(vendor),
                            static_cast<uint8_t>(product >> 8), static_cast<uint8_t>(product)};
  return uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 | uint32_t{bytes[2]} << 16 |
         uint32_t{bytes[3]} << 24;
}

Bytes EisaId(std::string_view id) { return DWord(EisaIdValue(id)); }

Bytes Name(std::string_view path, const Bytes& value) {
  Bytes out{kNameOp};
  Append(out, NameString(path));
  Append(out, value);
  return out;
}

Bytes Package(const std::vector<Bytes>& elements) {
  if (elements.size() > 255) throw std::invalid_argument("AML Package with more than 255 elements");
  Bytes content{static_cast<uint8_t>(elements.size())};
  for (const auto& e : elements) Append(content, e);
  return WithPkgLength({kPackageOp}, content);
}

Bytes Buffer(std::span<const uint8_t> data) {
  Bytes content = Integer(data.size());
  content.insert(content.end(), data.begin(), data.end());
  return WithPkgLength({kBufferOp}, content);
}

Bytes Device(std::string_view name, const std::vector<Bytes>& body) {
  Bytes content = NameString(name);
  for (const auto& b : body) Append(content, b);
  return WithPkgLength({kExtOpPrefix, kDeviceOp}, content);
}

Bytes Scope(std::string_view path, const std::vector<Bytes>& body) {
  Bytes content = NameString(path);
  for (const auto& b : body) Append(content, b);
  return WithPkgLength({kScopeOp}, content);
}

Bytes IoPort(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length) {
  Bytes out{kIoPortDescriptor, 0x01 /*Decode16*/};
  AppendLe<uint16_t>(out, min);
  AppendLe<uint16_t>(out, max);
  out.push_back(alignment);
  out.push_back(length);
  return out;
}

Bytes IrqNoFlags(uint8_t irq) {
  if (irq > 15) throw std::invalid_argument("IRQNoFlags takes an ISA IRQ (0-15)");
  const uint16_t mask = static_cast<uint16_t>(1u << irq);
  return Bytes{kIrqDescriptor, static_cast<uint8_t>(mask), static_cast<uint8_t>(mask >> 8)};
}

Bytes WordBusNumber(uint16_t min, uint16_t max) {
  return AddressSpace(kWordAddressSpace, kResourceTypeBus, 0, 2, min, max);
}

Bytes WordIo(uint16_t min, uint16_t max) {
  // Type flags: ISA ranges = EntireRange (3).
  return AddressSpace(kWordAddressSpace, kResourceTypeIo, 0x03, 2, min, max);
}

Bytes DWordMemory(uint32_t min, uint32_t max, bool cacheable) {
  // Type flags: ReadWrite (bit 0), Cacheable (bits 2:1 = 01) or NonCacheable.
  return AddressSpace(kDWordAddressSpace, kResourceTypeMemory, cacheable ? 0x03 : 0x01, 4, min,
                      max);
}

Bytes QWordMemory(uint64_t min, uint64_t max, bool cacheable) {
  return AddressSpace(kQWordAddressSpace, kResourceTypeMemory, cacheable ? 0x03 : 0x01, 8, min,
                      max);
}

Bytes ResourceTemplate(const std::vector<Bytes>& descriptors) {
  Bytes data;
  for (const auto& d : descriptors) Append(data, d);
  // End Tag; a zero checksum byte means "treat the sum as valid".
  data.push_back(kEndTag);
  data.push_back(0x00);
  return Buffer(data);
}

}  // namespace bulkhead::boot::aml
