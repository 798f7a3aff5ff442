#!/usr/bin/env bash
# What the tests need beyond Python packages, installed only when missing:
# Debian's Chromium (Playwright drives it; no browser is downloaded),
# axe-core from the npm registry (the accessibility audit) and Debian's
# Dovecot (the email tests read mail over IMAP from a throwaway instance).
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
if [ ! -x /usr/sbin/dovecot ]; then
  echo "Installing Debian's dovecot-imapd for the email tests…"
  apt_install dovecot-imapd
fi
# Only the binaries are used: the tests start their own Dovecot on a free
# loopback port. The package starts its own service; a left-over one is
# harmless to the tests but not wanted on a developer's machine.
# (Its pid file is in its own base_dir; the tests' instances keep theirs elsewhere.)
if [ -e /run/dovecot/master.pid ]; then
  as_root service dovecot stop >/dev/null 2>&1 || true
fi
# Dovecot refuses mail access as root: the tests' mail belongs to this user.
if ! id vmail >/dev/null 2>&1; then
  as_root useradd --system --no-create-home --shell /usr/sbin/nologin vmail
fi
