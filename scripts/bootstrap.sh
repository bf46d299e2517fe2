#!/usr/bin/env bash
# Install what is missing, idempotently: Debian packages (when root; otherwise name them), the
# virtualenv and the pinned Python packages, and for `test` and `lint` the locked node packages (ESLint)
# in node_modules/. Usage: scripts/bootstrap.sh run|test|lint
set -euo pipefail
cd "$(dirname "$0")/.."

purpose="${1:-run}"
packages=(clamav clamav-daemon libmagic1)
if [ "$purpose" = "lint" ]; then
  packages=()
elif [ "$purpose" = "test" ]; then
  packages+=(chromium chromium-driver postgresql clamav-freshclam openssl)
fi

missing=()
for pkg in ${packages[@]+"${packages[@]}"}; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: please install these Debian packages first: ${missing[*]}" >&2
    echo "           sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$python" -m venv .venv
fi
# Reinstall only when the pinned requirements change.
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

# The browser code's checks (ESLint, node's test runner): the locked packages, reinstalled only when
# package-lock.json changes.
if [ "$purpose" = "test" ] || [ "$purpose" = "lint" ]; then
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -lt 20 ] || ! command -v npm >/dev/null; then
    echo "bootstrap: node 20.19 or newer and npm are needed for the browser-code checks" >&2
    exit 1
  fi
  node_stamp=node_modules/.package-lock.sha256
  node_want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$node_stamp" 2>/dev/null)" != "$node_want" ]; then
    echo "bootstrap: installing node packages"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    echo "$node_want" > "$node_stamp"
  fi
fi
