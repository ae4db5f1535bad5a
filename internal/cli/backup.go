package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra/internal/backup"
)

// backupStoreFlags choose the database: the data home's SQLite unless --postgres.
type backupStoreFlags struct {
	home           string
	postgres       string
	postgresSchema string
}

func (f *backupStoreFlags) register(cmd *cobra.Command, rt *runtime) {
	fl := cmd.Flags()
	fl.StringVar(&f.home, "home", "", "data home (default $CAVRA_HOME, else the user's data directory)")
	fl.StringVar(&f.postgres, "postgres", rt.getenv("CAVRA_POSTGRES"), "PostgreSQL DSN instead of the data home's SQLite (env CAVRA_POSTGRES); the role must bypass row-level security")
	fl.StringVar(&f.postgresSchema, "postgres-schema", rt.getenv("CAVRA_POSTGRES_SCHEMA"), "PostgreSQL schema (env CAVRA_POSTGRES_SCHEMA)")
}

func summaryLine(m backup.Manifest) string {
	tenants, entries, checkpoints := m.Totals()
	return fmt.Sprintf("%d tenants, %d entries, %d checkpoints (schema v%d, %s)", tenants, entries, checkpoints, m.SchemaVersion, m.Source)
}

func newBackupCmd(rt *runtime) *cobra.Command {
	var (
		flags   backupStoreFlags
		outPath string
	)
	cmd := &cobra.Command{
		Use:   "backup -o FILE",
		Short: "Write a consistent backup of the database, signing keys and configuration",
		Long: `Write a gzip'd tar archive of the installation: a consistent snapshot of the database (taken
online: agents and the server keep writing), the keyring in keys/ (private keys included) and
config.yaml, with a manifest of every file's SHA-256. The file is written as FILE.tmp, with mode
0600, and renamed when complete.

With --postgres the snapshot is read from PostgreSQL in one REPEATABLE READ transaction; the role
must bypass row-level security (a superuser or BYPASSRLS) to see every tenant.

Exit status: 0 written, 1 the backup failed, 2 usage error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if outPath == "" {
				return usageError("-o FILE is required")
			}
			dir, err := homeDir(rt, flags.home)
			if err != nil {
				return err
			}
			tmp := outPath + ".tmp"
			f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("create backup file: %w", err))
			}
			defer os.Remove(tmp) //nolint:errcheck // gone after the rename
			// A file that existed keeps its mode through O_TRUNC: the archive holds private keys.
			err = f.Chmod(0o600)
			var m backup.Manifest
			if err == nil {
				m, err = backup.Create(cmd.Context(), f, backup.Source{Home: dir, PostgresDSN: flags.postgres, PostgresSchema: flags.postgresSchema},
					backup.CreateOptions{CavraVersion: buildVersion(), Clock: time.Now, Logger: rt.logger})
			}
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(tmp, outPath)
			}
			if err != nil {
				return withExit(exitFailure, err)
			}
			fmt.Fprintf(rt.stderr, "warning: %s holds the private signing keys (mode 0600): keep it as safe as the keys themselves\n", outPath)
			_, err = fmt.Fprintf(rt.stdout, "backed up %s to %s\n", summaryLine(m), outPath)
			return err
		},
	}
	flags.register(cmd, rt)
	cmd.Flags().StringVarP(&outPath, "output", "o", "", "archive file to write")
	return cmd
}

func newRestoreCmd(rt *runtime) *cobra.Command {
	var (
		flags backupStoreFlags
		force bool
	)
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Restore a backup written by cavra backup",
		Long: `Restore a backup into the data home (and, with --postgres, its database into PostgreSQL). The
whole archive is checked against its manifest before anything changes. A data home that already
holds a database, keys or a configuration, or a PostgreSQL schema with rows, is refused unless
--force, which moves the old files aside (cavra.db.bak-<time>, keys.bak-<time>) rather than
deleting them, and truncates PostgreSQL's tables. Stop cavra processes using the home first.

Exit status: 0 restored, 1 the restore failed or was refused, 2 usage error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := homeDir(rt, flags.home)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("open backup: %w", err))
			}
			defer f.Close()
			m, err := backup.Restore(cmd.Context(), f, backup.Destination{Home: dir, PostgresDSN: flags.postgres, PostgresSchema: flags.postgresSchema},
				backup.RestoreOptions{Force: force, Clock: time.Now, Logger: rt.logger, MovedAside: func(from, to string) {
					fmt.Fprintf(rt.stdout, "moved aside %s -> %s\n", from, to)
				}})
			if err != nil {
				return withExit(exitFailure, err)
			}
			_, err = fmt.Fprintf(rt.stdout, "restored %s into %s (backup made by cavra %s at %s)\n",
				summaryLine(m), dir, m.CavraVersion, m.CreatedAt.Format(time.RFC3339))
			return err
		},
	}
	flags.register(cmd, rt)
	cmd.Flags().BoolVar(&force, "force", false, "restore over an existing installation, moving its files aside")
	return cmd
}
