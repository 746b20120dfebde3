#!/usr/bin/env bash
# System packages the course needs beyond Python: g++ compiles the exported C files in the tests.
# Installs them with apt when run as root on Debian/Ubuntu; otherwise says what to install.
set -euo pipefail
need=()
command -v g++ >/dev/null 2>&1 || need+=(g++)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
else
  echo "Missing system packages: ${need[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${need[*]};" \
       "macOS: xcode-select --install; Windows: use WSL or conda's gxx). Tests that compile C will be skipped." >&2
fi
