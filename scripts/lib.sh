# Shared helpers for Bulkhead's scripts. Source it; do not run it.
# shellcheck shell=bash

BULKHEAD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Images are cached outside the source tree, keyed by their inputs.
BULKHEAD_CACHE="${BULKHEAD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bulkhead}"
BULKHEAD_BUILD="${BULKHEAD_BUILD:-$BULKHEAD_ROOT/build}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# phase NAME CMD...: runs CMD and prints how long it took (scripts/test reports these).
phase() {
  local name="$1"; shift
  local start=$SECONDS rc=0
  log "phase '$name' started"
  "$@" || rc=$?
  log "phase '$name' took $((SECONDS - start)) s (exit $rc)"
  PHASE_TIMES+=("$(printf '%-12s %5d s' "$name" $((SECONDS - start)))")
  return $rc
}

# Hash of files and strings, for cache keys.
input_key() {
  { for x in "$@"; do
      if [ -f "$x" ]; then sha256sum < "$x"; else printf '%s\n' "$x"; fi
    done; } | sha256sum | cut -c1-16
}

# Version of the Debian package that satisfies a (possibly virtual/meta) name.
pkg_candidate() { apt-cache policy "$1" | awk '/Candidate:/{print $2}'; }

# copy_with_libs DEST BINARY...: copies each binary to DEST/<its path> and
# every shared library ldd names (the dynamic loader too), so DEST is a
# self-contained root for those programs.
copy_with_libs() {
  local dest="$1"; shift
  local bin lib
  for bin in "$@"; do
    [ -e "$bin" ] || die "copy_with_libs: $bin does not exist"
    install -D -m 0755 "$(readlink -f "$bin")" "$dest$bin"
    for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
      [ -e "$dest$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$dest$lib"
    done
  done
}

# mod_closure ROOT RELEASE MODULE...: prints the .ko paths (relative to the
# modules dir) for the modules and their dependencies from modules.dep, in
# load order (dependencies first), each once.
mod_closure() {
  local root="$1" release="$2"; shift 2
  python3 - "$root/lib/modules/$release/modules.dep" "$@" <<'PY'
import sys, os
dep = {}
for line in open(sys.argv[1]):
    k, _, v = line.partition(':')
    dep[k] = v.split()
byname = {os.path.basename(k).split('.')[0].replace('-', '_'): k for k in dep}
seen, order = set(), []
def visit(k):
    if k in seen: return
    seen.add(k)
    for d in dep.get(k, []): visit(d)
    order.append(k)
for m in sys.argv[2:]:
    k = byname.get(m.replace('-', '_'))
    if k is None: sys.exit(f"module {m} not found in modules.dep")
    visit(k)
print('\n'.join(order))
PY
}

# make_cpio DIR OUT: a newc cpio of DIR, gzip-compressed (the kernel unpacks
# concatenated archives, so layers are separate files).
make_cpio() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc --owner 0:0) | gzip -1 > "$2"
}

# Installed version of a Debian package (what copy_with_libs copies from).
pkg_installed() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }
