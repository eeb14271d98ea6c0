@0xb7c1e5a3d2f40911;
# Control plane between the core and one device process. Never the data path:
# register accesses go over the exit ring, doorbells over ioeventfds,
# interrupts over irqfds. A call costs ~40 us; this carries setup and events.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("bulkhead::schema");

interface Fd {
  # A file descriptor in transit. Cap'n Proto passes it when the server
  # overrides getFd() and both ends allow fds per message.
}

struct Health {
  requestsServed @0 :UInt64;
  requestsReplayed @1 :UInt64;
}

interface DeviceControl {
  # Called by the core after spawn: hands the device every fd it will ever use.
  attach @0 (kind :Text, stateRegion :Fd, rings :List(Fd), doorbells :List(Fd),
             irqs :List(Fd), backend :List(Fd), guestRam :Fd, config :Data) -> ();
  health @1 () -> (health :Health);
  shutdown @2 () -> ();
}
