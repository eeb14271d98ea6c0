#include "devproc/ahci/fis.h"

#include "devproc/ahci/ahci_regs.h"

namespace bulkhead::ahci {
namespace {

void PutLba(uint8_t* f, uint64_t lba) {
  f[4] = static_cast<uint8_t>(lba);
  f[5] = static_cast<uint8_t>(lba >> 8);
  f[6] = static_cast<uint8_t>(lba >> 16);
  f[8] = static_cast<uint8_t>(lba >> 24);
  f[9] = static_cast<uint8_t>(lba >> 32);
  f[10] = static_cast<uint8_t>(lba >> 40);
}

}  // namespace

H2dFis DecodeH2d(const uint8_t (&c)[20]) {
  H2dFis f;
  f.type = c[0];
  f.command_update = (c[1] & 0x80) != 0;
  f.command = c[2];
  f.features = static_cast<uint16_t>(c[3] | (c[11] << 8));
  f.lba = uint64_t{c[4]} | uint64_t{c[5]} << 8 | uint64_t{c[6]} << 16 | uint64_t{c[8]} << 24 |
          uint64_t{c[9]} << 32 | uint64_t{c[10]} << 40;
  f.device = c[7];
  f.count = static_cast<uint16_t>(c[12] | (c[13] << 8));
  f.control = c[15];
  return f;
}

std::array<uint8_t, 20> EncodeH2d(const H2dFis& f) {
  std::array<uint8_t, 20> c{};
  c[0] = kFisH2d;
  c[1] = f.command_update ? 0x80 : 0;
  c[2] = f.command;
  c[3] = static_cast<uint8_t>(f.features);
  PutLba(c.data(), f.lba);
  c[7] = f.device;
  c[11] = static_cast<uint8_t>(f.features >> 8);
  c[12] = static_cast<uint8_t>(f.count);
  c[13] = static_cast<uint8_t>(f.count >> 8);
  c[15] = f.control;
  return c;
}

Status WriteD2hFis(const GuestMemory& mem, uint64_t fb, const TaskFile& tf, bool interrupt) {
  uint8_t f[20] = {};
  f[0] = kFisD2h;
  f[1] = interrupt ? 0x40 : 0;
  f[2] = tf.status;
  f[3] = tf.error;
  PutLba(f, tf.lba);
  f[7] = tf.device;
  f[12] = static_cast<uint8_t>(tf.count);
  f[13] = static_cast<uint8_t>(tf.count >> 8);
  return mem.Write(fb + kRfisRfis, f);
}

Status WritePioSetupFis(const GuestMemory& mem, uint64_t fb, const TaskFile& tf, uint8_t e_status,
                        bool to_host, uint16_t bytes, bool interrupt) {
  uint8_t f[20] = {};
  f[0] = kFisPioSetup;
  f[1] = static_cast<uint8_t>((to_host ? 0x20 : 0) | (interrupt ? 0x40 : 0));
  f[2] = tf.status;
  f[3] = tf.error;
  PutLba(f, tf.lba);
  f[7] = tf.device;
  f[12] = static_cast<uint8_t>(tf.count);
  f[13] = static_cast<uint8_t>(tf.count >> 8);
  f[15] = e_status;
  f[16] = static_cast<uint8_t>(bytes);
  f[17] = static_cast<uint8_t>(bytes >> 8);
  return mem.Write(fb + kRfisPsfis, f);
}

Status WriteDmaSetupFis(const GuestMemory& mem, uint64_t fb, uint32_t tag, bool to_host,
                        uint32_t bytes, bool interrupt) {
  uint8_t f[28] = {};
  f[0] = kFisDmaSetup;
  // A (auto-activate) is set: the device needs no DMA activate FIS.
  f[1] = static_cast<uint8_t>((to_host ? 0x20 : 0) | (interrupt ? 0x40 : 0) | 0x80);
  f[4] = static_cast<uint8_t>(tag & 0x1F);  // DMA buffer identifier: the tag
  for (int i = 0; i < 4; ++i) f[20 + i] = static_cast<uint8_t>(bytes >> (8 * i));
  return mem.Write(fb + kRfisDsfis, f);
}

Status WriteSdbFis(const GuestMemory& mem, uint64_t fb, uint8_t status, uint8_t error,
                   uint32_t done, bool interrupt) {
  uint8_t f[8] = {};
  f[0] = kFisSdb;
  f[1] = interrupt ? 0x40 : 0;
  f[2] = static_cast<uint8_t>(status & 0x77);  // status hi (6:4) and lo (2:0)
  f[3] = error;
  for (int i = 0; i < 4; ++i) f[4 + i] = static_cast<uint8_t>(done >> (8 * i));
  return mem.Write(fb + kRfisSdbfis, f);
}

}  // namespace bulkhead::ahci
