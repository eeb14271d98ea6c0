#include "core/boot/dsdt.h"

namespace bulkhead::boot {

aml::Bytes PciHostBridgeCrs(const MemoryLayout& layout) {
  return aml::ResourceTemplate({
      aml::WordBusNumber(0x00, 0xFF),
      aml::IoPort(kPciConfigAddressPort, kPciConfigAddressPort, 1, 8),
      // As on a PC, the legacy ports (serial, ACPI PM) decode behind the host
      // bridge; BARs are placed from 0x1000 up.
      aml::WordIo(0x0000, 0x0CF7),
      aml::WordIo(0x0D00, 0xFFFF),
      aml::DWordMemory(static_cast<uint32_t>(kPciMmio32Start),
                       static_cast<uint32_t>(kPciMmio32End - 1), /*cacheable=*/false),
      aml::QWordMemory(layout.mmio64_start, layout.mmio64_end() - 1, /*cacheable=*/true),
  });
}

aml::Bytes PciRoutingTable() {
  std::vector<aml::Bytes> entries;
  for (uint32_t slot = 0; slot < kPciSlots; ++slot) {
    for (uint32_t pin = 0; pin < 4; ++pin) {
      // { Address (device << 16 | any function), Pin, Source (0 = GSI), GSI }
      entries.push_back(aml::Package({aml::DWord(slot << 16 | 0xFFFF), aml::Integer(pin),
                                      aml::Integer(0), aml::Integer(PciIntxGsi(slot, pin))}));
    }
  }
  return aml::Package(entries);
}

aml::Bytes BuildDsdtAml(const MemoryLayout& layout) {
  std::vector<aml::Bytes> body;
  body.push_back(aml::Name("_HID", aml::EisaId("PNP0A08")));  // PCI Express root bridge
  body.push_back(aml::Name("_CID", aml::EisaId("PNP0A03")));  // PCI root bridge
  body.push_back(aml::Name("_ADR", aml::Integer(0)));
  body.push_back(aml::Name("_SEG", aml::Integer(0)));
  body.push_back(aml::Name("_BBN", aml::Integer(0)));
  body.push_back(aml::Name("_UID", aml::Integer(0)));
  body.push_back(aml::Name("_CRS", PciHostBridgeCrs(layout)));
  body.push_back(aml::Name("_PRT", PciRoutingTable()));
  const aml::Bytes pci0 = aml::Device("PCI0", body);
  // The legacy devices, with their interrupts. Hardware-reduced ACPI has no
  // legacy PIC, so Linux maps an ISA IRQ to its IOAPIC pin only when a
  // device's _CRS names it: without these the 8250 and RTC drivers cannot
  // request IRQs 4 and 8.
  const aml::Bytes com1 = aml::Device(
      "COM1", {aml::Name("_HID", aml::EisaId("PNP0501")), aml::Name("_UID", aml::Integer(0)),
               aml::Name("_CRS", aml::ResourceTemplate({aml::IoPort(kSerialPort, kSerialPort, 8, 8),
                                                        aml::IrqNoFlags(static_cast<uint8_t>(kSerialIrq))}))});
  const aml::Bytes rtc = aml::Device(
      "RTC0", {aml::Name("_HID", aml::EisaId("PNP0B00")),
              aml::Name("_CRS", aml::ResourceTemplate({aml::IoPort(0x70, 0x70, 1, 2),
                                                       aml::IrqNoFlags(8)}))});
  aml::Bytes out = aml::Scope("\\_SB", {pci0, com1, rtc});
  // SLP_TYPa, SLP_TYPb, reserved, reserved. Hardware-reduced ACPI uses only
  // SLP_TYPa, written to the FADT's sleep control register.
  const aml::Bytes s5 = aml::Name(
      "\\_S5", aml::Package({aml::Integer(kAcpiS5SleepType), aml::Integer(kAcpiS5SleepType),
                             aml::Integer(0), aml::Integer(0)}));
  out.insert(out.end(), s5.begin(), s5.end());
  return out;
}

}  // namespace bulkhead::boot
