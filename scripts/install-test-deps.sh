#!/usr/bin/env bash
# What the tests need beyond Python packages, installed only when missing:
# Debian's Chromium (Playwright drives it; no browser is downloaded) and
# axe-core from the npm registry (the accessibility audit).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests…"
  apt_install chromium fonts-dejavu-core
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "Installing npm for axe-core…"
  apt_install nodejs npm
fi
axe_version=$(sed -n 's/.*"axe-core": "\(.*\)".*/\1/p' package.json)
if ! grep -q "\"version\": \"$axe_version\"" node_modules/axe-core/package.json 2>/dev/null; then
  echo "Installing axe-core $axe_version…"
  npm install --no-package-lock --no-audit --no-fund --silent
fi
