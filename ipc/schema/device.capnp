@0xb7c1e5a3d2f40911;
# Control plane between the core and one device process. Never the data path:
# register accesses go over the exit ring, doorbells over ioeventfds,
# interrupts over irqfds. A call costs ~40 us; this carries setup and events.
#
# The core is the client and the device process serves DeviceControl. Both
# ends must allow fds per message (ipc/control.h does), or Cap'n Proto 0.9.2
# silently drops them. The device trusts nothing it receives: it checks that
# every fd is of the kind the field says (eventfd, memfd) before using it.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("bulkhead::schema");

interface Fd {
  # A file descriptor in transit. The sender's server overrides getFd(); the
  # receiver calls getFd() on the capability and must dup() the result, since
  # the fd is closed when the capability is released.
}

struct ExitRing {
  # One exit ring (ipc/exit_ring.h): one per vCPU per device.
  vcpu @0 :UInt32;
  memory @1 :Fd;   # sealed memfd holding the ring
  kick @2 :Fd;     # eventfd, producer (core) -> consumer (device)
  done @3 :Fd;     # eventfd, consumer -> producer
}

struct Doorbell {
  # An eventfd registered with KVM_IOEVENTFD for a notify address.
  queue @0 :UInt32;
  fd @1 :Fd;
}

struct Irq {
  # An eventfd registered with KVM_IRQFD; resample is set for level-triggered
  # lines (KVM_IRQFD_FLAG_RESAMPLE) and absent otherwise.
  gsi @0 :UInt32;
  trigger @1 :Fd;
  resample @2 :Fd;
}

struct RamRegion {
  # Guest-physical [gpa, gpa+size) is bytes [offset, offset+size) of guestRam.
  gpa @0 :UInt64;
  size @1 :UInt64;
  offset @2 :UInt64;
}

struct Attachment {
  kind @0 :Text;            # "serial", "virtio-net", "ahci": must match the binary
  stateRegion @1 :Fd;       # sealed memfd with the device's architectural state
  rings @2 :List(ExitRing);
  doorbells @3 :List(Doorbell);
  irqs @4 :List(Irq);
  backend @5 :List(Fd);     # tap, disk image, ... opened by the core
  guestRam @6 :Fd;          # sealed memfd; only for devices that do DMA
  config @7 :Data;          # kind-specific configuration, parsed by the device
  ramRegions @8 :List(RamRegion);  # how guestRam maps to guest-physical addresses
}

struct Counter {
  name @0 :Text;
  value @1 :UInt64;
}

struct Health {
  requestsServed @0 :UInt64;
  requestsReplayed @1 :UInt64;    # served again after a restart (at-least-once)
  malformedRequests @2 :UInt64;   # guest or ring values rejected
  counters @3 :List(Counter);     # device-specific I/O counters ("rx_packets", ...)
}

interface DeviceControl {
  attach @0 (attachment :Attachment) -> ();
  # Called by the core after spawn, and again with the same fds after a restart:
  # hands the device every fd it will ever use.
  health @1 () -> (health :Health);
  reset @2 () -> ();
  # The guest reset the machine: bring the state region back to power-on.
  shutdown @3 () -> ();
  # The device stops serving and exits; the core closes the socket after the reply.
}
