#!/usr/bin/env bash
# Installs the Debian packages a host build needs: pkg-config and libdbus-1-dev (bluer
# links libdbus), libglib2.0-dev (the glib_embed example), python3 (scripts/with-stdin's
# terminal). Idempotent: once all are there it installs nothing and needs no root;
# otherwise root or sudo, for apt. scripts/test and scripts/chat-demo run it first.
set -euo pipefail
need=()
for pkg in pkg-config libdbus-1-dev libglib2.0-dev python3; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
