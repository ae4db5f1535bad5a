// Package testenv gives tests the real services of the machine they run on, read from the
// environment. Without a service's variable a test skips, unless CAVRA_REQUIRE_SERVICES=1 (set
// by .ci/run), under which a missing service fails the test instead.
package testenv

import (
	"os"
	"testing"
)

// Environment variables naming the services tests may use.
const (
	PostgresVar = "CAVRA_TEST_POSTGRES" // e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable
	NATSVar     = "CAVRA_TEST_NATS"     // e.g. nats://127.0.0.1:4222
	RequireVar  = "CAVRA_REQUIRE_SERVICES"
)

// Required reports whether missing services must fail tests.
func Required() bool { return os.Getenv(RequireVar) == "1" }

// Lookup returns the value of the service variable name, skipping or failing t without it.
func Lookup(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if Required() {
		t.Fatalf("%s is required (%s=1) but %s is not set", what, RequireVar, name)
	}
	t.Skipf("%s not set: skipping the %s test", name, what)
	return ""
}

// Postgres returns the DSN of a real PostgreSQL server.
func Postgres(t testing.TB) string { return Lookup(t, PostgresVar, "PostgreSQL") }

// NATS returns the URL of a real NATS server with JetStream.
func NATS(t testing.TB) string { return Lookup(t, NATSVar, "NATS") }

// Skip skips t for a missing local tool or package (python3, softhsm2), or fails it when
// services are required: CI installs every tool the tests need.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf("required (%s=1): "+format, append([]any{RequireVar}, args...)...)
	}
	t.Skipf(format, args...)
}
