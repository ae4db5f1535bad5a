#!/bin/sh
# install-openapi-lint.sh installs the Redocly CLI that lints CAVRA's OpenAPI document, exactly
# as pinned by scripts/openapi-lint/package-lock.json. Idempotent: npm ci runs only when
# node_modules is missing or older than the lock file.
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
dir="$root/scripts/openapi-lint"
stamp="$dir/node_modules/.package-lock.json"

if ! command -v npm >/dev/null 2>&1; then
	echo "install-openapi-lint: npm not found; install Node.js 20.19+ (Debian: apt-get install nodejs npm)" >&2
	exit 1
fi
if [ -f "$stamp" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ]; then
	echo "install-openapi-lint: Redocly CLI up to date"
	exit 0
fi
npm ci --prefix "$dir" --no-audit --no-fund
echo "install-openapi-lint: Redocly CLI installed in $dir/node_modules"
