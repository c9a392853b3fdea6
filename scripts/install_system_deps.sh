#!/usr/bin/env bash
# System packages the dashboard tests need on a fresh machine (CI included).
# Idempotent: installs only what is missing and says what it does.
#   - chromium: the browser tests drive Debian's /usr/bin/chromium through Playwright
#     (a browser download by playwright itself is not possible on this network).
#   - a Japanese font: without one, screenshots of the Japanese-first pages show tofu.
set -euo pipefail

missing=()
if [ -x /usr/bin/chromium ]; then
    echo "install_system_deps: /usr/bin/chromium present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown')); nothing to do"
else
    echo "install_system_deps: /usr/bin/chromium missing; will install Debian package 'chromium'"
    missing+=(chromium)
fi

if command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=ja 2>/dev/null | head -n 1)" ]; then
    echo "install_system_deps: a Japanese font is present; nothing to do"
else
    echo "install_system_deps: no Japanese font found; will install Debian package 'fonts-ipafont-gothic'"
    missing+=(fonts-ipafont-gothic)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "install_system_deps: apt-get update"
$SUDO apt-get update -qq
echo "install_system_deps: apt-get install -y --no-install-recommends ${missing[*]}"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install_system_deps: done"
