#!/usr/bin/env bash
# Cross-compiles the addon for every platform in package.json's `napi.targets` on one Linux x64
# machine, so a release does not need a Mac, a Windows box or an arm64 server. Users on those
# machines get "Cannot find native binding" unless a platform package carries their binary, and
# nothing builds on `npm install` (docs/platforms.md).
#
# It installs what it needs on a fresh Debian machine (as root): the rustup targets, Debian's
# mingw-w64 gcc/g++ for windows-gnu, and zig + cargo-zigbuild from PyPI into a venv for the
# linux and darwin targets (zig links those without any SDK; the two macOS frameworks our
# dependencies link are stubbed by scripts/macos-stubs.js). Routes checked on this
# machine: FACTS.md "Cross-compiling and running other platforms here".
#
#   scripts/build-all.sh                       # every target in napi.targets
#   scripts/build-all.sh aarch64-unknown-linux-gnu x86_64-apple-darwin   # some of them
#
# Output: artifacts/webhook-processor.<platform>.node (the layout `napi artifacts` reads);
# `npm run pack:all` turns them into npm/<platform>/ tarballs. The host's binary is also copied
# to the repository root, where `npm run build` puts it.
#
# linux-gnu binaries are linked by zig against glibc 2.17 (GLIBC), as napi-rs's own cross
# toolchain does: built with the host's toolchain (Debian 12) they need glibc 2.34 and refuse
# to load on Debian 11, Ubuntu 20.04 or Amazon Linux 2.
#
# Environment: CARGO_TARGET_DIR (default ./target; a cross build fills it per triple),
# TOOLS_DIR (default ./target/cross-tools: the venv and the stub libnode.dll), NICE (default 15:
# each release build keeps 2 cores busy for minutes on a shared machine), GLIBC (default 2.17).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
tools="${TOOLS_DIR:-$root/target/cross-tools}"
nice_level="${NICE:-15}"
host=x86_64-unknown-linux-gnu
glibc="${GLIBC:-2.17}"

log() { printf '\n== %s\n' "$*"; }

mapfile -t all_targets < <(node -p "require('./package.json').napi.targets.join('\n')")
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  printf '%s\n' "${all_targets[@]}" | grep -qx -- "$t" || { echo "unknown target $t (not in napi.targets)" >&2; exit 2; }
done
wants() { printf '%s\n' "${targets[@]}" | grep -q -- "$1"; }

if [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "build-all.sh cross-compiles from Linux x86_64 only" >&2
  exit 2
fi

log "rustup targets"
rustup target add "${targets[@]}"

if wants windows-gnu; then
  log "mingw-w64 (windows-gnu linker, C and C++ compilers)"
  if ! command -v x86_64-w64-mingw32-g++ >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64
  fi
  # napi-build links windows-gnu against libnode.dll and panics without one. With napi's
  # `dyn-symbols` feature (Cargo.toml) nothing is imported from it: an empty stub satisfies
  # the linker, and the binary resolves napi_* from the running node.exe.
  mkdir -p "$tools/libnode"
  if [ ! -f "$tools/libnode/libnode.dll" ]; then
    echo '/* empty: see scripts/build-all.sh */' >"$tools/libnode/stub.c"
    x86_64-w64-mingw32-gcc -shared -o "$tools/libnode/libnode.dll" "$tools/libnode/stub.c"
  fi
  export LIBNODE_PATH="$tools/libnode"
  # simdutf is C++: cc links libstdc++ statically (libstdc++.a from mingw's gcc, placed before
  # the C runtime so its needs resolve), and libgcc is static too, so the .node needs no mingw
  # DLL beside it on the user's machine.
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="-C link-arg=-static-libgcc"
  export CXXSTDLIB_STATIC_x86_64_pc_windows_gnu=1
fi

if wants linux || wants apple-darwin; then
  log "zig + cargo-zigbuild (PyPI, into $tools/venv)"
  if [ ! -x "$tools/venv/bin/cargo-zigbuild" ]; then
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install -q ziglang==0.17.0 cargo-zigbuild==0.24.0
  fi
  # ziglang installs `python -m ziglang`; cargo-zigbuild finds it there. napi's `-x` wants
  # `zig` itself on PATH, so give it a wrapper.
  if [ ! -x "$tools/venv/bin/zig" ]; then
    printf '#!/bin/sh\nexec "%s" -m ziglang "$@"\n' "$tools/venv/bin/python" >"$tools/venv/bin/zig"
    chmod +x "$tools/venv/bin/zig"
  fi
  export PATH="$tools/venv/bin:$PATH"
fi

if wants apple-darwin; then
  log "macOS framework stubs (scripts/macos-stubs.js)"
  # zig links darwin without an SDK but has no frameworks; two dependencies link CoreFoundation
  # and SystemConfiguration: text stubs naming their install paths and symbols stand in.
  stubs="$(node scripts/macos-stubs.js "$tools/macos-stubs")"
  export CARGO_TARGET_X86_64_APPLE_DARWIN_RUSTFLAGS="-C link-arg=-F$stubs"
  export CARGO_TARGET_AARCH64_APPLE_DARWIN_RUSTFLAGS="-C link-arg=-F$stubs"
fi

mkdir -p artifacts
failed=()
for t in "${targets[@]}"; do
  platform="$(node -e "const {parseTriple}=require('@napi-rs/cli');console.log(parseTriple(process.argv[1]).platformArchABI)" "$t")"
  log "$t → artifacts/webhook-processor.$platform.node"
  args=(build --platform --release --output-dir artifacts --no-js --dts artifacts.d.ts)
  envs=()
  case "$t" in
    *-linux-gnu) args+=(-x --target "$t.$glibc") ;; # cargo-zigbuild's glibc version suffix
    x86_64-pc-windows-gnu) args+=(--target "$t") ;;
    x86_64-apple-darwin) args+=(-x --target "$t"); envs=(MACOSX_DEPLOYMENT_TARGET=10.13) ;;
    aarch64-apple-darwin) args+=(-x --target "$t"); envs=(MACOSX_DEPLOYMENT_TARGET=11.0) ;;
    *) args+=(-x --target "$t") ;;
  esac
  if ! env "${envs[@]}" nice -n "$nice_level" npx napi "${args[@]}"; then
    failed+=("$t") # the others still build; reported at the end
    continue
  fi
  if [ "$t" = "$host" ]; then
    cp "artifacts/webhook-processor.$platform.node" .
  fi
  ls -l "artifacts/webhook-processor.$platform.node"
done
rm -f artifacts/artifacts.d.ts

log "built"
ls -l artifacts/*.node
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
