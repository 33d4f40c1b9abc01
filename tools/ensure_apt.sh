#!/usr/bin/env bash
# Installs a Debian package unless its binary is already there: headless Chromium for the
# pipeline page test, HAProxy for the local cluster. Idempotent.
#   usage: tools/ensure_apt.sh BINARY[|OTHER_NAME] PACKAGE WHY
set -euo pipefail
names=$1 package=$2 why=$3
binary=${names%%|*}
for name in ${names//|/ }; do
  if command -v "$name" >/dev/null 2>&1 || [ -x "/usr/sbin/$name" ]; then
    exit 0
  fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$binary is missing and apt-get is not available: install $package ($why) and put it on PATH" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing Debian's $package package ($why) ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$package" >/dev/null
command -v "$binary" >/dev/null || [ -x "/usr/sbin/$binary" ]
