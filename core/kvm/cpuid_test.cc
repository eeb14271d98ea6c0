#include "core/kvm/cpuid.h"

#include <gtest/gtest.h>

namespace bulkhead::kvm {
namespace {

kvm_cpuid_entry2 Leaf(uint32_t fn, uint32_t idx, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  kvm_cpuid_entry2 e{};
  e.function = fn;
  e.index = idx;
  e.eax = a;
  e.ebx = b;
  e.ecx = c;
  e.edx = d;
  return e;
}

const kvm_cpuid_entry2* Find(const std::vector<kvm_cpuid_entry2>& v, uint32_t fn, uint32_t idx = 0) {
  for (const auto& e : v) {
    if (e.function == fn && e.index == idx) return &e;
  }
  return nullptr;
}

std::vector<kvm_cpuid_entry2> Host() {
  return {Leaf(0x1, 0, 0x806f8, 0xFF00'0800, kCpuid1EcxMonitor | kCpuid1EcxVmx | 1, 0),
          Leaf(0x6, 0, 7, 7, 7, 7),
          Leaf(0xA, 0, 0x07300805, 0, 0, 0x603),
          Leaf(0xB, 0, 1, 2, 0x100, 9),
          Leaf(0xB, 1, 4, 16, 0x201, 9),
          Leaf(0xB, 2, 0, 0, 2, 9),
          Leaf(0x1F, 0, 1, 2, 0x100, 9),
          Leaf(0x80000001, 0, 0, 0, kCpuidExt1EcxSvm | 1, 0)};
}

TEST(GuestCpuid, SetsApicIdCountAndHypervisorBit) {
  auto v = GuestCpuid(Host(), 3, 4);
  const auto* l1 = Find(v, 1);
  ASSERT_NE(l1, nullptr);
  EXPECT_EQ(l1->ebx >> 24, 3u);
  EXPECT_EQ((l1->ebx >> 16) & 0xFF, 4u);
  EXPECT_EQ(l1->ebx & 0xFFFF, 0x0800u);  // brand/CLFLUSH bits kept
  EXPECT_TRUE(l1->ecx & kCpuid1EcxHypervisor);
  EXPECT_FALSE(l1->ecx & kCpuid1EcxVmx);
  EXPECT_FALSE(l1->ecx & kCpuid1EcxMonitor);
  EXPECT_TRUE(l1->ecx & 1);  // SSE3 untouched
  EXPECT_TRUE(l1->edx & kCpuid1EdxHtt);
}

TEST(GuestCpuid, SingleVcpuHasNoHtt) {
  auto v = GuestCpuid(Host(), 0, 1);
  EXPECT_FALSE(Find(v, 1)->edx & kCpuid1EdxHtt);
  EXPECT_EQ(Find(v, 0xB, 1)->eax, 0u);
}

TEST(GuestCpuid, TopologyLeafDescribesOneThreadPerCore) {
  auto v = GuestCpuid(Host(), 1, 2);
  EXPECT_EQ(Find(v, 0xB, 0)->ebx, 1u);
  EXPECT_EQ(Find(v, 0xB, 0)->edx, 1u);
  EXPECT_EQ(Find(v, 0xB, 1)->eax, 1u);  // 2 cores need 1 bit
  EXPECT_EQ(Find(v, 0xB, 1)->ebx, 2u);
  EXPECT_EQ(Find(v, 0xB, 1)->ecx, (2u << 8) | 1);
  EXPECT_EQ(Find(v, 0xB, 2)->ecx, 2u);  // invalid level ends the list
  EXPECT_EQ(Find(GuestCpuid(Host(), 0, 5), 0xB, 1)->eax, 3u);
}

TEST(GuestCpuid, HidesPmuThermalNestedAndV2Topology) {
  auto v = GuestCpuid(Host(), 0, 2);
  EXPECT_EQ(Find(v, 0xA)->eax, 0u);
  EXPECT_EQ(Find(v, 0x6)->eax, 0u);
  EXPECT_EQ(Find(v, 0x1F), nullptr);
  EXPECT_FALSE(Find(v, 0x80000001)->ecx & kCpuidExt1EcxSvm);
  EXPECT_TRUE(Find(v, 0x80000001)->ecx & 1);
}

}  // namespace
}  // namespace bulkhead::kvm
