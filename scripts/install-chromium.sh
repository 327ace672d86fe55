#!/usr/bin/env bash
# Installs Debian's chromium when /usr/bin/chromium is missing: the headless browser the /dora
# page test (__test__/dora-backend.test.ts) drives through playwright-core. No browser download
# happens anywhere else (playwright-core fetches none); the package comes from the distribution.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
