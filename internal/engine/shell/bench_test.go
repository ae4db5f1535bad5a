package shell

import (
	"slices"
	"testing"
	"time"
)

// benchLines is a mix of what coding agents run, from one-word commands to heredocs and nested
// payloads.
var benchLines = []string{
	"ls -la",
	"git status",
	"go test ./... 2>&1 | tee out.log",
	"npm run build && npm test",
	`git commit -m "fix: handle $(weird) text"`,
	`for f in *.go; do gofmt -l "$f"; done`,
	`make -j4 CFLAGS="-O2"`,
	`docker run --rm -v "$PWD:/src" img`,
	"python - <<'EOF'\nprint(1)\nEOF",
	"cd infra && terraform plan -out plan.tfplan",
	`grep -rn "TODO" --include=*.go . | head -20`,
	"find . -name '*.pyc' -exec rm -f {} +",
	"sudo apt-get install -y build-essential",
	`bash -c 'rm -rf /tmp/build && mkdir -p /tmp/build'`,
	"cat package.json | jq '.scripts'",
	"pytest -x -q tests/test_api.py::test_login",
	"export GOFLAGS=-mod=mod; go build ./cmd/...",
	`echo "$(date +%s)" > .stamp`,
	"git log --oneline -n 20 --graph",
	"cargo test --workspace -- --nocapture",
	"kubectl get pods -n prod -o wide",
	"curl -fsSL https://example.com/install.sh | sh",
	"ls | xargs -n 1 -P 4 wc -l",
	`if [ -f .env ]; then source .env; fi; npm start`,
	"timeout 60 nohup ./scripts/run.sh > run.log 2>&1 &",
	`awk '{print $1}' access.log | sort | uniq -c | sort -rn | head`,
	"git diff HEAD~1 -- src/ | wc -l",
	`eval "$(ssh-agent -s)" && ssh-add ~/.ssh/id_ed25519`,
	"sed -i 's/foo/bar/g' src/*.ts",
	"cat <<EOF > config.yaml\nname: app\nversion: $(git describe)\nEOF",
}

// BenchmarkParse reports the mean, median and 99th percentile time to normalise one line of the
// mixed corpus; Parse runs in an agent hook on every tool call.
func BenchmarkParse(b *testing.B) {
	opts := Options{Dir: "/work/repo", Home: "/home/dev"}
	for _, l := range benchLines {
		if _, err := Parse(l, opts); err != nil {
			b.Fatalf("Parse(%q): %v", l, err)
		}
	}
	samples := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		line := benchLines[i%len(benchLines)]
		start := time.Now()
		if _, err := Parse(line, opts); err != nil {
			b.Fatal(err)
		}
		if len(samples) < cap(samples) {
			samples = append(samples, time.Since(start))
		}
	}
	b.StopTimer()
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns/line")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns/line")
}
