@0xb7770f0e49e88af4;
# The management API: what a user (through `bulkhead ctl`) sees and steers in
# a running VM. Served by the core on a unix socket (core/api/api_server.h),
# mode 0600, owned by the user running Bulkhead; one bootstrap capability of
# type Vm per connection.
#
# Errors are Cap'n Proto exceptions whose description is one line naming what
# failed ("restart: no device named 'foo'"). Structs mirror core/vm_control.h;
# new fields go at the end with new ordinals, so old clients keep working.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("bulkhead::schema::api");

struct VmStatus {
  paused @0 :Bool;
  uptimeSeconds @1 :Float64;
  vcpus @2 :UInt32;
  memoryBytes @3 :UInt64;
}

struct Counter {
  # A device-specific I/O counter ("rx_frames", "commands", ...).
  name @0 :Text;
  value @1 :UInt64;
}

struct Device {
  name @0 :Text;              # what restartDevice takes: "serial", "net", "ahci"
  kind @1 :Text;
  pid @2 :Int64;              # -1 while no process runs
  state @3 :Text;             # "running", "restarting", "failed", "stopped"
  restarts @4 :UInt32;
  lastExit @5 :Text;          # why the last process ended; empty if none did
  blockedSyscall @6 :Text;    # "openat (257)" when seccomp killed it last
  lastRecoveryMs @7 :Float64; # from death to the new process attached
  requestsServed @8 :UInt64;
  requestsReplayed @9 :UInt64;
  malformedRequests @10 :UInt64;
  counters @11 :List(Counter);
}

interface Vm {
  status @0 () -> (status :VmStatus);
  devices @1 () -> (devices :List(Device));
  restartDevice @2 (name :Text) -> ();
  # Kills the device's process; the core starts a new one, the guest keeps running.
  pause @3 () -> ();
  resume @4 () -> ();
  powerOff @5 () -> ();
  # Ends the VM as if the guest had powered off (bulkhead exits 0).
}
