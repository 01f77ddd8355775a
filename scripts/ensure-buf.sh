#!/usr/bin/env bash
# Prints the path of the buf binary used by `npm run proto`, installing the npm package
# @bufbuild/buf into the gitignored .cache/ folder when it is not there yet. buf is not a
# devDependency: its package lists optional binaries for every platform, and a registry that lacks
# some of them leaves package-lock.json incomplete, which makes `npm ci` refuse to install.
set -euo pipefail
version="1.75.0"
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/.cache/buf"
bin="$prefix/node_modules/.bin/buf"
if [ ! -x "$bin" ] || [ "$("$bin" --version 2>/dev/null)" != "$version" ]; then
  rm -rf "$prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "@bufbuild/buf@$version" >&2
fi
echo "$bin"
