// A small AML (ACPI Machine Language) encoder: just the data objects a static
// DSDT needs (names, integers, strings, packages, buffers, devices, scopes)
// and the resource descriptors of a host bridge's _CRS. No methods: every
// value the guest reads is a constant, so the guest's AML interpreter never
// runs code we wrote.
//
// Encodings follow ACPI 6.4, chapter 20 (AML) and 6.4 (resource data types).
// Names come from this program, not from a user: a malformed name is a bug
// and throws std::invalid_argument at start-up.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace bulkhead::boot::aml {

using Bytes = std::vector<uint8_t>;

// PkgLength for `content_len` bytes that follow it (the encoding counts
// itself). Throws if the length exceeds the 28-bit maximum.
Bytes PkgLength(size_t content_len);

// NameString: "PCI0", "_S5", "\\_SB.PCI0", "^PCI0". Segments shorter than
// four characters are padded with '_'.
Bytes NameString(std::string_view path);

// Smallest encoding: ZeroOp, OneOp, Byte/Word/DWord/QWord prefix.
Bytes Integer(uint64_t value);
// Always a DWordConst, for values a reader expects 32 bits wide.
Bytes DWord(uint32_t value);
Bytes String(std::string_view s);
// EISA ID such as "PNP0A03", compressed to a 32-bit integer (EISAID macro).
uint32_t EisaIdValue(std::string_view id);
Bytes EisaId(std::string_view id);

Bytes Name(std::string_view path, const Bytes& value);
Bytes Package(const std::vector<Bytes>& elements);  // at most 255 elements
Bytes Buffer(std::span<const uint8_t> data);
Bytes Device(std::string_view name, const std::vector<Bytes>& body);
Bytes Scope(std::string_view path, const std::vector<Bytes>& body);

// ---- Resource descriptors (concatenate, then wrap in ResourceTemplate) ----
// I/O port descriptor, 16-bit decode.
Bytes IoPort(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length);
// IRQNoFlags(){irq}: an ISA interrupt, edge-triggered, active high (irq 0-15).
Bytes IrqNoFlags(uint8_t irq);
// Address space descriptors as produced by a bridge (ResourceProducer,
// MinFixed, MaxFixed, PosDecode), translation 0, length max - min + 1.
Bytes WordBusNumber(uint16_t min, uint16_t max);
Bytes WordIo(uint16_t min, uint16_t max);
Bytes DWordMemory(uint32_t min, uint32_t max, bool cacheable);
Bytes QWordMemory(uint64_t min, uint64_t max, bool cacheable);
// Buffer holding the descriptors followed by an End Tag.
Bytes ResourceTemplate(const std::vector<Bytes>& descriptors);

}  // namespace bulkhead::boot::aml
