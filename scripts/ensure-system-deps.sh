#!/usr/bin/env bash
# System packages the browser tests need: Chromium and its driver (Debian's, never a download
# by a test tool), and CJK fonts so screenshots show Chinese. Installed with apt when missing
# and we are root; otherwise stop with a clear message: browser tests are never skipped.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if command -v fc-list >/dev/null 2>&1; then
  fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)
else
  missing+=(fonts-noto-cjk)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the browser tests need: ${missing[*]}" >&2
  echo "       install them (e.g. 'sudo apt-get install -y ${missing[*]}') and run 'make test' again." >&2
  exit 1
fi

echo "installing system packages for the browser tests: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
