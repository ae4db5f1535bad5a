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

// policyRef is the --policy flag, then $CAVRA_POLICY, then the default.
func policyRef(cmd *cobra.Command, rt *runtime) string {
	if f := cmd.Flags().Lookup("policy"); f != nil && f.Changed {
		return f.Value.String()
	}
	if v := rt.getenv("CAVRA_POLICY"); v != "" {
		return v
	}
	return defaultPolicy
}

func addPolicyFlag(cmd *cobra.Command) {
	cmd.Flags().String("policy", defaultPolicy, "policy pack: a built-in name (baseline, strict, regulated) or a YAML file (env CAVRA_POLICY)")
}

// newEngine loads the chosen policy and returns an engine with the secret scanner wired in.
func newEngine(cmd *cobra.Command, rt *runtime) (*engine.Engine, error) {
	pol, err := newLoader().Load(policyRef(cmd, rt))
	if err != nil {
		return nil, err
	}
	return engine.New(pol, engine.Options{Secrets: scanSecrets()}), nil
}
