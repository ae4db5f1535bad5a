#!/bin/sh
# install-mcp-peers.sh installs the real MCP peers that internal/mcpgw's end-to-end tests run
# against (@modelcontextprotocol/server-filesystem), exactly as pinned by the package-lock.json
# in internal/mcpgw/testdata/peers. Idempotent: npm ci runs only when node_modules is missing or
# older than the lock file.
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
peers="$root/internal/mcpgw/testdata/peers"
stamp="$peers/node_modules/.package-lock.json"

if ! command -v npm >/dev/null 2>&1; then
	echo "install-mcp-peers: npm not found; install Node.js 20+ (Debian: apt-get install nodejs npm)" >&2
	exit 1
fi
if [ -f "$stamp" ] && [ ! "$peers/package-lock.json" -nt "$stamp" ]; then
	echo "install-mcp-peers: peers up to date"
	exit 0
fi
npm ci --prefix "$peers" --no-audit --no-fund
echo "install-mcp-peers: peers installed in $peers/node_modules"
