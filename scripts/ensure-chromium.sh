#!/usr/bin/env bash
# The web app's browser tests drive Debian's Chromium (never a downloaded browser build).
set -euo pipefail
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$chromium" ]; then
  exit 0
fi
echo "Chromium not found at $chromium: installing Debian's chromium package"
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; }; then
  echo "Could not install chromium with apt-get: install Debian's chromium package (or set CHROMIUM_PATH) to run the browser tests" >&2
  exit 1
fi
