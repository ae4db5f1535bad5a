package cli

import (
	"io/fs"
	"sync"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra/internal/compliance"
	"github.com/cavra-dev/cavra/internal/engine"
	"github.com/cavra-dev/cavra/policies"
)

// defaultPolicy is the pack used when neither --policy nor CAVRA_POLICY says otherwise.
const defaultPolicy = "baseline"

func newLoader() *engine.Loader {
	builtin, err := fs.Sub(policies.FS, ".")
	if err != nil {
		// fs.Sub of "." cannot fail.
		panic(err)
	}
	return &engine.Loader{Builtin: builtin, CheckRef: complianceChecker()}
}

// complianceChecker rejects references to controls that the embedded catalogs do not have.
// Frameworks outside the catalogs (an organisation's own, PCI DSS, HIPAA) are accepted as
// written. The catalogs are parsed on first use: only lint needs them.
func complianceChecker() func(string) error {
	load := sync.OnceValues(compliance.Load)
	return func(ref string) error {
		catalog, err := load()
		if err != nil {
			return err
		}
		_, _, err = catalog.Resolve(ref)
		return err
	}
}

// policyRef is the --policy flag, then $CAVRA_POLICY, then the default. A file is resolved
// against the caller's working directory.
func policyRef(cmd *cobra.Command, rt *runtime) string {
	ref := defaultPolicy
	if f := cmd.Flags().Lookup("policy"); f != nil && f.Changed {
		ref = f.Value.String()
	} else if v := rt.getenv("CAVRA_POLICY"); v != "" {
		ref = v
	}
	if rt.dir != "" && !newLoader().IsBuiltin(ref) {
		ref = rt.path(ref)
	}
	return ref
}

func addPolicyFlag(cmd *cobra.Command) {
	cmd.Flags().String("policy", defaultPolicy, "policy pack: a built-in name (baseline, strict, regulated) or a YAML file (env CAVRA_POLICY)")
}

// newEngine loads the chosen policy and returns an engine with the secret scanner wired in.
func newEngine(cmd *cobra.Command, rt *runtime) (*engine.Engine, error) {
	ref := policyRef(cmd, rt)
	var (
		pol *engine.Policy
		err error
	)
	if rt.hookCache != nil {
		pol, err = rt.hookCache.policy(ref)
	} else {
		pol, err = newLoader().Load(ref)
	}
	if err != nil {
		return nil, err
	}
	return engine.New(pol, engine.Options{Secrets: rt.scanSecrets(), Home: rt.getenv("HOME")}), nil
}
