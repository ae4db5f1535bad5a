#!/bin/sh
# install-test-deps.sh installs what CAVRA's tests need beyond Go modules:
#   - SoftHSM2 (Debian softhsm2), the software PKCS#11 token the internal/keys PKCS#11 tests
#     sign with;
#   - local-kms (a Go program speaking the AWS KMS API), the KMS peer the internal/keys
#     awskms tests sign with.
# Idempotent: it installs only what is missing.
set -eu

softhsm_module=/usr/lib/softhsm/libsofthsm2.so
local_kms_module=github.com/nsmithuk/local-kms
local_kms_version=v0.0.0-20260228092603-2a5e92d09ab6

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi

if [ -e "$softhsm_module" ] && command -v softhsm2-util >/dev/null 2>&1; then
	echo "install-test-deps: softhsm2 already installed"
else
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update
	$sudo apt-get install -y --no-install-recommends softhsm2
	if [ ! -e "$softhsm_module" ]; then
		echo "install-test-deps: $softhsm_module missing after installing softhsm2" >&2
		exit 1
	fi
	echo "install-test-deps: softhsm2 installed ($softhsm_module)"
fi

gobin="$(go env GOBIN)"
if [ -z "$gobin" ]; then
	gobin="$(go env GOPATH)/bin"
fi
if command -v local-kms >/dev/null 2>&1 || [ -x "$gobin/local-kms" ]; then
	echo "install-test-deps: local-kms already installed"
else
	# Installed outside the module so it never touches CAVRA's go.mod.
	(cd / && GOFLAGS=-buildvcs=false go install "$local_kms_module@$local_kms_version")
	echo "install-test-deps: local-kms installed ($gobin/local-kms)"
fi
