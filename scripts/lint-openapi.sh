#!/bin/sh
# lint-openapi.sh regenerates CAVRA's OpenAPI document from the server
# (internal/httpapi/testdata/openapi.json, the golden file TestOpenAPIGolden keeps) and lints
# it with the pinned Redocly CLI and scripts/openapi-lint/redocly.yaml (the recommended
# ruleset). Exits non-zero on any error or warning.
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
dir="$root/scripts/openapi-lint"

sh "$root/scripts/install-openapi-lint.sh"
(cd "$root" && go test -count=1 ./internal/httpapi -run '^TestOpenAPIGolden$' -update)

out=$(cd "$dir" && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
	./node_modules/.bin/redocly lint --config redocly.yaml --format stylish \
	"$root/internal/httpapi/testdata/openapi.json" 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -v '[║╔╚]'
if echo "$out" | grep -Eq '^[[:space:]]*[0-9]+:[0-9]+[[:space:]]+warning'; then
	echo "lint-openapi: warnings" >&2
	exit 1
fi
