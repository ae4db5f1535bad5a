package secrets

import (
	"encoding/base64"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	upperDigits  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	alnum        = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	base32Upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	urlSafe      = alnum + "-_"
	lowerDigits  = "abcdefghijklmnopqrstuvwxyz0123456789"
	base64Alphas = alnum + "+/"
)

// fakeSecrets builds secrets that match the rules' shapes from a seeded generator, so that no
// literal secret is stored in the repository (and push protection has nothing to flag) while
// every run tests the same strings.
type fakeSecrets struct{ r *rand.Rand }

func newFakeSecrets(seed uint64) *fakeSecrets {
	return &fakeSecrets{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (f *fakeSecrets) chars(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[f.r.IntN(len(alphabet))]
	}
	return string(b)
}

func (f *fakeSecrets) awsAccessKey() string { return "AK" + "IA" + f.chars(base32Upper, 16) }
func (f *fakeSecrets) githubPAT() string    { return "gh" + "p_" + f.chars(alnum, 36) }
func (f *fakeSecrets) githubFineGrained() string {
	return "github" + "_pat_" + f.chars(alnum+"_", 82)
}
func (f *fakeSecrets) gitlabPAT() string { return "gl" + "pat-" + f.chars(urlSafe, 20) }
func (f *fakeSecrets) slackBot() string {
	return "xo" + "xb-" + f.chars("0123456789", 12) + "-" + f.chars("0123456789", 13) + "-" + f.chars(alnum, 24)
}
func (f *fakeSecrets) stripeLive() string { return "sk" + "_live_" + f.chars(alnum, 24) }
func (f *fakeSecrets) gcpAPIKey() string  { return "AI" + "za" + f.chars(urlSafe, 35) }
func (f *fakeSecrets) npmToken() string   { return "np" + "m_" + f.chars(lowerDigits, 36) }
func (f *fakeSecrets) anthropic() string {
	return "sk-" + "ant-api03-" + f.chars(urlSafe, 93) + "AA"
}
func (f *fakeSecrets) openAI() string {
	return "sk-" + "proj-" + f.chars(urlSafe, 74) + "T3Blbk" + "FJ" + f.chars(urlSafe, 74)
}
func (f *fakeSecrets) slackWebhook() string {
	return "https://hooks." + "slack.com/services/" + f.chars(alnum, 44)
}
func (f *fakeSecrets) jwt() string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload := enc.EncodeToString([]byte(`{"sub":"` + f.chars(lowerDigits, 12) + `","iat":1732500000}`))
	return header + "." + payload + "." + f.chars(urlSafe, 43)
}
func (f *fakeSecrets) privateKeyPEM(kind string) string {
	var b strings.Builder
	b.WriteString("-----BEGIN " + kind + " PRIVATE" + " KEY-----\n")
	for range 6 {
		b.WriteString(f.chars(base64Alphas, 64) + "\n")
	}
	b.WriteString(f.chars(base64Alphas, 20) + "==\n")
	b.WriteString("-----END " + kind + " PRIVATE" + " KEY-----\n")
	return b.String()
}

type secretCase struct {
	name     string
	text     string
	secret   string // must not appear in the finding
	wantRule string
	wantLine int
	wantCol  int // 0: not checked
}

func secretCases(t *testing.T) []secretCase {
	t.Helper()
	f := newFakeSecrets(1)
	aws := f.awsAccessKey()
	ghp := f.githubPAT()
	ghFine := f.githubFineGrained()
	glpat := f.gitlabPAT()
	slack := f.slackBot()
	stripe := f.stripeLive()
	gcp := f.gcpAPIKey()
	npm := f.npmToken()
	ant := f.anthropic()
	oai := f.openAI()
	hook := f.slackWebhook()
	jwt := f.jwt()
	rsa := f.privateKeyPEM("RSA")
	ssh := f.privateKeyPEM("OPENSSH")
	generic := f.chars(alnum, 32)
	return []secretCase{
		{name: "aws access key in Go struct", secret: aws, wantRule: "aws-access-token", wantLine: 2, wantCol: 16,
			text: "cfg := aws.Config{\n\tAccessKeyID: \"" + aws + "\",\n}\n"},
		{name: "github pat in git clone command", secret: ghp, wantRule: "github-pat", wantLine: 1, wantCol: 19,
			text: "git clone https://" + ghp + "@github.com/acme/infra.git"},
		{name: "github fine-grained pat in dotenv", secret: ghFine, wantRule: "github-fine-grained-pat", wantLine: 2, wantCol: 14,
			text: "# ci\nGITHUB_TOKEN=" + ghFine + "\n"},
		{name: "gitlab pat in curl header", secret: glpat, wantRule: "gitlab-pat", wantLine: 1,
			text: `curl --header "PRIVATE-TOKEN: ` + glpat + `" https://gitlab.example.com/api/v4/projects`},
		{name: "slack bot token in yaml", secret: slack, wantRule: "slack-bot-token", wantLine: 3, wantCol: 10,
			text: "notify:\n  slack:\n    bot: " + slack + "\n"},
		{name: "stripe live key in python", secret: stripe, wantRule: "stripe-access-token", wantLine: 2,
			text: "import stripe\nstripe.api_key = \"" + stripe + "\"\n"},
		{name: "rsa private key in pem file", secret: rsa[40:80], wantRule: "private-key", wantLine: 1, wantCol: 1,
			text: rsa},
		{name: "openssh private key written after text", secret: ssh[40:80], wantRule: "private-key", wantLine: 3, wantCol: 1,
			text: "# deploy key\n\n" + ssh},
		{name: "gcp api key in javascript", secret: gcp, wantRule: "gcp-api-key", wantLine: 2,
			text: "const firebaseConfig = {\n  apiKey: \"" + gcp + "\",\n  projectId: \"acme\",\n};\n"},
		{name: "npm token in npmrc", secret: npm, wantRule: "npm-access-token", wantLine: 1,
			text: "//registry.npmjs.org/:_authToken=" + npm + "\n"},
		{name: "anthropic key in export command", secret: ant, wantRule: "anthropic-api-key", wantLine: 1, wantCol: 26,
			text: "export ANTHROPIC_API_KEY=" + ant + " && claude -p hi"},
		{name: "openai key in typescript", secret: oai, wantRule: "openai-api-key", wantLine: 1,
			text: "const openai = new OpenAI({ apiKey: \"" + oai + "\" });"},
		{name: "slack webhook in shell", secret: hook[30:], wantRule: "slack-webhook-url", wantLine: 1,
			text: "curl -X POST -d '{\"text\":\"done\"}' " + hook},
		{name: "jwt in python header", secret: jwt, wantRule: "jwt", wantLine: 1,
			text: "headers = {\"Authorization\": \"Bearer " + jwt + "\"}\n"},
		{name: "generic api key with high entropy", secret: generic, wantRule: "generic-api-key", wantLine: 3,
			text: "package main\n\nconst serviceApiKey = \"" + generic + "\"\n"},
	}
}

func TestScanFindsSecrets(t *testing.T) {
	s := New()
	for _, tc := range secretCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			got := s.Scan(tc.text)
			f, ok := findRule(got, tc.wantRule)
			if !ok {
				t.Fatalf("Scan() = %+v, want a %s finding", got, tc.wantRule)
			}
			if f.Line != tc.wantLine {
				t.Errorf("Line = %d, want %d", f.Line, tc.wantLine)
			}
			if tc.wantCol != 0 && f.Column != tc.wantCol {
				t.Errorf("Column = %d, want %d", f.Column, tc.wantCol)
			}
			if f.Description == "" {
				t.Error("Description is empty")
			}
			for _, g := range got {
				if strings.Contains(g.Redacted, tc.secret) {
					t.Errorf("finding %s leaks the secret: Redacted = %q", g.RuleID, g.Redacted)
				}
				if !strings.Contains(g.Redacted, "****") {
					t.Errorf("finding %s is not masked: Redacted = %q", g.RuleID, g.Redacted)
				}
			}
		})
	}
}

func findRule(fs []Finding, rule string) (Finding, bool) {
	for _, f := range fs {
		if f.RuleID == rule {
			return f, true
		}
	}
	return Finding{}, false
}

// cleanCorpus reads testdata/clean: everyday files and commands an agent writes, none of which
// holds a secret.
func cleanCorpus(t testing.TB) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "clean", "*"))
	if err != nil {
		t.Fatal(err)
	}
	corpus := make(map[string]string, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		corpus[filepath.Base(p)] = string(b)
	}
	return corpus
}

func TestScanIgnoresEverydayText(t *testing.T) {
	corpus := cleanCorpus(t)
	if len(corpus) < 15 {
		t.Fatalf("clean corpus has %d texts, want at least 15", len(corpus))
	}
	inline := map[string]string{
		"getenv of a secret variable":  `key := os.Getenv("AWS_SECRET_ACCESS_KEY")`,
		"password flag definition":     `password := flag.String("password", "", "the database password")`,
		"empty text":                   "",
		"go test command":              "go test ./internal/engine/... -run TestScan -count=1",
		"secret reference in actions":  "token: ${{ secrets.DEPLOY_TOKEN }}",
		"shell variable as credential": `docker login -u "$REGISTRY_USER" --password-stdin <<< "$REGISTRY_PASSWORD"`,
	}
	for name, text := range inline {
		corpus["inline: "+name] = text
	}
	s := New()
	for name, text := range corpus {
		t.Run(name, func(t *testing.T) {
			if got := s.Scan(text); len(got) != 0 {
				t.Errorf("Scan() = %+v, want no finding", got)
			}
		})
	}
}

func TestScanPositionsAndOrder(t *testing.T) {
	f := newFakeSecrets(2)
	first, second := f.githubPAT(), f.awsAccessKey()
	text := "a\n\n  x=" + first + " y=" + second + "\n"
	got := New().Scan(text)
	if len(got) != 2 {
		t.Fatalf("Scan() = %+v, want 2 findings", got)
	}
	want := []struct {
		rule      string
		line, col int
	}{{"github-pat", 3, 5}, {"aws-access-token", 3, 48}}
	for i, w := range want {
		if got[i].RuleID != w.rule || got[i].Line != w.line || got[i].Column != w.col {
			t.Errorf("finding %d = %s at %d:%d, want %s at %d:%d",
				i, got[i].RuleID, got[i].Line, got[i].Column, w.rule, w.line, w.col)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name, match, secret, want string
	}{
		{name: "long secret keeps four", match: `key = "ABCDEFGHIJKLMNOP"`, secret: "ABCDEFGHIJKLMNOP", want: `key = "ABCD****"`},
		{name: "short secret keeps a quarter", match: "pw=abcdefgh", secret: "abcdefgh", want: "pw=ab****"},
		{name: "tiny secret keeps nothing", match: "x:abc", secret: "abc", want: "x:****"},
		{name: "every occurrence masked", match: "ABCDEFGHIJKL/ABCDEFGHIJKL", secret: "ABCDEFGHIJKL", want: "ABC****/ABC****"},
		{name: "empty secret", match: "whatever", secret: "", want: "****"},
		{name: "no split rune", match: "k=ééééééé", secret: "ééééééé", want: "k=é****"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact(tt.match, tt.secret); got != tt.want {
				t.Errorf("redact(%q, %q) = %q, want %q", tt.match, tt.secret, got, tt.want)
			}
		})
	}
}

func TestKeywordIndex(t *testing.T) {
	rules := []ruleSpec{
		{ID: "a", Keywords: []string{"akia"}},
		{ID: "b", Keywords: []string{"ey", "hvs."}},
		{ID: "c", Keywords: []string{"x"}},           // one byte: matched the slow way
		{ID: "d", Keywords: []string{"straße"}},      // non-ASCII: matched the slow way
		{ID: "e", Keywords: []string{"key", "akia"}}, // shares a keyword with a
	}
	ki := newKeywordIndex(rules)
	tests := []struct {
		name string
		text string
		want string // rule ids hit, in order
	}{
		{name: "none", text: "hello world", want: ""},
		{name: "upper case text", text: "AKIA1234", want: "ae"},
		{name: "keyword at end", text: "monkey", want: "be"},
		{name: "one byte keyword", text: "box", want: "c"},
		{name: "unicode keyword", text: "Hauptstraße 1", want: "d"},
		{name: "kelvin sign lowers to k", text: "\u212aey", want: "be"},
		{name: "two byte keyword alone", text: "EY", want: "b"},
		{name: "single byte text", text: "k", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits := ki.rulesIn(tt.text)
			var got strings.Builder
			for i, r := range rules {
				if hits.has(i) {
					got.WriteString(r.ID)
				}
			}
			if got.String() != tt.want {
				t.Errorf("rulesIn(%q) = %q, want %q", tt.text, got.String(), tt.want)
			}
		})
	}
}

func TestRuleWithoutKeywordsAlwaysRuns(t *testing.T) {
	s := newScanner([]ruleSpec{{ID: "digits", Description: "ten digits", Regex: `\b[0-9]{10}\b`}}, nil)
	got := s.Scan("call 0123456789 now")
	if len(got) != 1 || got[0].RuleID != "digits" || got[0].Column != 6 {
		t.Fatalf("Scan() = %+v, want one digits finding at column 6", got)
	}
}

func TestBrokenRuleFailsClosed(t *testing.T) {
	s := newScanner([]ruleSpec{{ID: "broken", Regex: `([a-z`, Keywords: []string{"abc"}}}, nil)
	if got := s.Scan("nothing here"); got != nil {
		t.Fatalf("Scan() without keyword = %+v, want nil", got)
	}
	got := s.Scan("abc")
	if len(got) != 1 || got[0].RuleID != ruleErrorID || !strings.Contains(got[0].Description, "broken") {
		t.Fatalf("Scan() = %+v, want one %s finding naming the rule", got, ruleErrorID)
	}
}

func TestAllowlistConditions(t *testing.T) {
	rule := func(al ...allowlistSpec) []ruleSpec {
		return []ruleSpec{{ID: "tok", Regex: `tok_([a-z0-9]{8})`, Keywords: []string{"tok_"}, Allowlists: al}}
	}
	tests := []struct {
		name   string
		rules  []ruleSpec
		global []allowlistSpec
		text   string
		want   int
	}{
		{name: "no allowlist", rules: rule(), text: "tok_abcd1234", want: 1},
		{name: "secret regex", rules: rule(allowlistSpec{Regexes: []string{`^abcd`}}), text: "tok_abcd1234", want: 0},
		{name: "secret regex does not see prefix", rules: rule(allowlistSpec{Regexes: []string{`^tok_`}}), text: "tok_abcd1234", want: 1},
		{name: "match target", rules: rule(allowlistSpec{RegexTarget: "match", Regexes: []string{`^tok_`}}), text: "tok_abcd1234", want: 0},
		{name: "line target", rules: rule(allowlistSpec{RegexTarget: "line", Regexes: []string{`# fixture`}}), text: "x\ntok_abcd1234 # fixture\n", want: 0},
		{name: "stop word", rules: rule(allowlistSpec{StopWords: []string{"cd12"}}), text: "TOK_ABCD1234 tok_abcd1234", want: 0},
		{name: "and needs both", rules: rule(allowlistSpec{MatchAll: true, Regexes: []string{`^abcd`}, StopWords: []string{"zz"}}), text: "tok_abcd1234", want: 1},
		{name: "and with both", rules: rule(allowlistSpec{MatchAll: true, Regexes: []string{`^abcd`}, StopWords: []string{"12"}}), text: "tok_abcd1234", want: 0},
		{name: "and with a path never allows", rules: rule(allowlistSpec{MatchAll: true, Regexes: []string{`.`}, HasPaths: true}), text: "tok_abcd1234", want: 1},
		{name: "global allowlist", rules: rule(), global: []allowlistSpec{{Regexes: []string{`1234$`}}}, text: "tok_abcd1234", want: 0},
		{name: "joined flags carry over", rules: rule(allowlistSpec{Regexes: []string{`(?i)^zzz`, `^ABCD`}}), text: "tok_abcd1234", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newScanner(tt.rules, tt.global).Scan(tt.text)
			if len(got) != tt.want {
				t.Errorf("Scan(%q) = %+v, want %d findings", tt.text, got, tt.want)
			}
		})
	}
}

func TestGitleaksAllowCommentIsNotHonoured(t *testing.T) {
	ghp := newFakeSecrets(3).githubPAT()
	got := New().Scan(`token = "` + ghp + `" # gitleaks:allow`)
	if _, ok := findRule(got, "github-pat"); !ok {
		t.Fatalf("Scan() = %+v, want the github-pat finding despite the inline allow comment", got)
	}
}

func TestAWSExampleKeyIsAllowlisted(t *testing.T) {
	example := "AKIAIOSFODNN7" + "EXAMPLE"
	if got := New().Scan("aws_access_key_id = " + example); len(got) != 0 {
		t.Errorf("Scan() = %+v, want the documentation key allowlisted", got)
	}
	// The same shape without the EXAMPLE suffix is reported.
	real := "AKIAIOSFODNN7" + "QWERTYZ"
	if got := New().Scan("aws_access_key_id = " + real); len(got) == 0 {
		t.Error("Scan() found nothing in a non-example key")
	}
}

func TestZeroScannerUsesDefaultRules(t *testing.T) {
	var s Scanner
	ghp := newFakeSecrets(4).githubPAT()
	if _, ok := findRule(s.Scan("x := \""+ghp+"\""), "github-pat"); !ok {
		t.Fatal("zero Scanner did not find a github-pat")
	}
}

func TestEveryRuleCompiles(t *testing.T) {
	s := New()
	for i, r := range s.rules {
		if lr := s.rule(i); lr.err != nil {
			t.Errorf("rule %s: %v", r.ID, lr.err)
		}
		if _, err := s.ruleAllowlists(i); err != nil {
			t.Errorf("rule %s: %v", r.ID, err)
		}
	}
	if _, err := s.globalAllowlists(); err != nil {
		t.Error(err)
	}
}

func TestConcurrentScans(t *testing.T) {
	s := New()
	cases := secretCases(t)
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range cases {
				tc := cases[(i+w)%len(cases)]
				if _, ok := findRule(s.Scan(tc.text), tc.wantRule); !ok {
					t.Errorf("%s: rule %s not found", tc.name, tc.wantRule)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
