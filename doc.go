// Package cavra holds CAVRA's domain: the canonical Action an agent wants to take, the Decision
// policy returns for it, and the interfaces the adapters, engine and stores implement.
//
// It imports only the standard library so that every adapter can depend on it and nothing else.
package cavra
