#!/usr/bin/env bash
# Install Debian's Chromium when no Chromium is on PATH: the gallery's browser test
# (tests/gallery/test_gallery_browser.py) opens the page in it. CI and this project's machines run as
# root; elsewhere sudo is used when there is one, else the command to run is printed and it fails.
set -euo pipefail
for browser in chromium chromium-browser google-chrome; do
  if command -v "$browser" >/dev/null 2>&1; then exit 0; fi
done
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "Chromium is missing and this is not root: run 'apt-get install -y chromium' as root." >&2
  exit 1
fi
echo "installing Chromium (apt-get install chromium) for the gallery's browser test ..."
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
