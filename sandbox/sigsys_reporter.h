// The SIGSYS handler the jail installs just before loading the seccomp
// filter; see sandbox/death_note.h for what it reports and why.
#pragma once

#include "ipc/result.h"
#include "sandbox/death_note.h"

namespace bulkhead {

// Installs the handler (SA_SIGINFO | SA_RESETHAND, all signals blocked while
// it runs). `note`, if not null, must stay mapped for the process lifetime.
// The report line goes to `log_fd` (normally 2).
[[nodiscard]] Status InstallSigsysReporter(int log_fd, DeathNote* note);

// Formats the death-note line for (nr, arch) into buf without allocating;
// returns its length including the '\n'. Exposed for tests.
size_t FormatDeathNoteLine(char (&buf)[96], int nr, uint32_t arch) noexcept;

}  // namespace bulkhead
