package mlbom

import "testing"

// FuzzParseReadme feeds hostile README.md files (front matter is YAML from the model publisher).
func FuzzParseReadme(f *testing.F) {
	f.Add([]byte(readme))
	f.Add([]byte("---\na: &x [*x]\n---\n"))
	f.Add([]byte("---\r\nlicense: mit\r\n...\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Card
		_ = c.ParseReadme(data)
	})
}

// FuzzParseConfig feeds hostile config.json files.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(config))
	f.Add([]byte(`{"architectures":"X","hidden_size":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Card
		if err := c.ParseConfig(data); err != nil {
			return
		}
		if len(c.Architectures) > 0 && c.Architectures[0] == "" {
			t.Fatal("empty architecture accepted")
		}
	})
}
