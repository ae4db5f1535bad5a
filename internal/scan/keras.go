package scan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"sort"
	"strings"

	"github.com/cavra-dev/cavra"
)

const (
	maxKerasConfig = 64 << 20
	// maxH5ConfigSearch bounds how far into an HDF5 file the model_config attribute is sought;
	// Keras writes it into the root group's header near the start.
	maxH5ConfigSearch = 64 << 20
)

// kerasBuiltinModules hold the layers and functions Keras ships; objects from elsewhere need
// custom code registered at load time.
var kerasBuiltinModules = []string{"keras", "tf_keras", "tensorflow", "builtins"}

// scanKerasConfigMember checks a .keras archive's config.json.
func (j *job) scanKerasConfigMember(src source, sc scope) {
	if src.size > maxKerasConfig {
		sc.add("keras.config-too-large", cavra.SeverityMedium, "", "config.json of %d bytes not inspected (limit %d)", src.size, maxKerasConfig)
		return
	}
	rc, err := src.open()
	if err != nil {
		sc.add("scan.read-error", cavra.SeverityMedium, "", "open: %v", err)
		return
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxKerasConfig))
	if err != nil {
		sc.add("keras.corrupt", cavra.SeverityMedium, "", "cannot read config.json: %v", err)
		return
	}
	var cfg any
	if err := json.Unmarshal(data, &cfg); err != nil {
		sc.add("keras.corrupt", cavra.SeverityMedium, "", "config.json is not JSON: %v", err)
		return
	}
	j.checkKerasConfig(cfg, sc)
}

// scanH5 looks for a Keras model_config attribute in an HDF5 file.
func (j *job) scanH5(src source, sc scope) string {
	rc, err := src.open()
	if err != nil {
		sc.add("scan.read-error", cavra.SeverityMedium, "", "open: %v", err)
		return FormatHDF5
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxH5ConfigSearch))
	if err != nil {
		sc.add("hdf5.unreadable", cavra.SeverityMedium, "", "read: %v", err)
		return FormatHDF5
	}
	found := false
	for off := 0; off < len(data); {
		i := bytes.Index(data[off:], []byte(`{"class_name"`))
		if i < 0 {
			break
		}
		start := off + i
		dec := json.NewDecoder(bytes.NewReader(data[start:]))
		var cfg map[string]any
		if err := dec.Decode(&cfg); err != nil {
			off = start + 1
			continue
		}
		if _, ok := cfg["config"]; ok {
			found = true
			j.checkKerasConfig(cfg, scope{c: sc.c, prefix: strings.TrimSpace(sc.prefix + " model_config")})
		}
		off = start + int(dec.InputOffset())
	}
	if found {
		return FormatKerasH5
	}
	return FormatHDF5
}

// checkKerasConfig walks a Keras model config for Lambda layers and objects from outside Keras.
func (j *job) checkKerasConfig(cfg any, sc scope) {
	var lambdas, custom []string
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 256 {
			return
		}
		switch t := v.(type) {
		case map[string]any:
			class, _ := t["class_name"].(string)
			module, _ := t["module"].(string)
			name := layerName(t)
			if class == "Lambda" {
				lambdas = append(lambdas, name)
				j.checkLambdaCode(t, name, sc)
			}
			if module != "" && class != "" {
				tier, sev := j.s.rules.Classify(module, class)
				switch {
				case tier == TierDangerous:
					sc.add("keras.dangerous-object", sev, "layer "+name,
						"config deserialises %s, which can run code or reach the system", printableRef(module, class))
				case !hasModulePrefix(module, kerasBuiltinModules):
					custom = append(custom, printableRef(module, class))
				}
			}
			if reg, _ := t["registered_name"].(string); strings.HasPrefix(reg, "Custom>") {
				custom = append(custom, reg)
			}
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(t[k], depth+1)
			}
		case []any:
			for _, e := range t {
				walk(e, depth+1)
			}
		}
	}
	walk(cfg, 0)
	for _, name := range lambdas {
		sc.add("keras.lambda-layer", cavra.SeverityMedium, "layer "+name,
			"Lambda layer carries serialized Python code that runs when the model is loaded without safe_mode")
	}
	for _, c := range dedupe(custom) {
		sc.add("keras.custom-object", cavra.SeverityLow, "",
			"config needs custom object %s registered at load time", c)
	}
}

func layerName(m map[string]any) string {
	if c, ok := m["config"].(map[string]any); ok {
		if n, ok := c["name"].(string); ok {
			return printableName(n)
		}
	}
	if n, ok := m["name"].(string); ok {
		return printableName(n)
	}
	return "(unnamed)"
}

func hasModulePrefix(module string, prefixes []string) bool {
	for _, p := range prefixes {
		if moduleCovers(p, module) {
			return true
		}
	}
	return false
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// lambdaCodeNames are names whose presence in a Lambda's marshalled code object means it
// reaches the system.
var lambdaCodeNames = []string{"os", "system", "subprocess", "popen", "Popen", "eval", "exec",
	"__import__", "compile", "open", "socket", "getattr", "__builtins__", "check_output", "run"}

// checkLambdaCode decodes the base64 bytecode a Lambda layer carries and looks for dangerous
// names in its marshalled name table. The code is never unmarshalled or run.
func (j *job) checkLambdaCode(layer map[string]any, name string, sc scope) {
	var blobs []string
	var collect func(v any, depth int)
	collect = func(v any, depth int) {
		if depth > 16 {
			return
		}
		switch t := v.(type) {
		case string:
			if len(t) > 16 {
				blobs = append(blobs, t)
			}
		case map[string]any:
			for _, e := range t {
				collect(e, depth+1)
			}
		case []any:
			for _, e := range t {
				collect(e, depth+1)
			}
		}
	}
	collect(layer["config"], 0)
	for _, b := range blobs {
		code, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b))
		if err != nil || len(code) == 0 {
			continue
		}
		var hits []string
		for _, n := range lambdaCodeNames {
			if marshalHasName(code, n) {
				hits = append(hits, n)
			}
		}
		if len(hits) > 0 {
			sc.add("keras.lambda-dangerous-code", cavra.SeverityCritical, "layer "+name,
				"Lambda bytecode references %s", strings.Join(hits, ", "))
		}
	}
}

// marshalHasName finds name as a marshalled short ASCII string (types 'z'/'Z', optionally
// flagged as a reference with 0x80) or a Unicode string ('u', 4-byte length).
func marshalHasName(code []byte, name string) bool {
	if len(name) > 255 {
		return false
	}
	for _, t := range []byte{'z', 'Z', 'z' | 0x80, 'Z' | 0x80} {
		if bytes.Contains(code, append([]byte{t, byte(len(name))}, name...)) {
			return true
		}
	}
	for _, t := range []byte{'u', 'u' | 0x80, 'a', 'a' | 0x80, 'A', 'A' | 0x80} {
		pat := append([]byte{t, byte(len(name)), 0, 0, 0}, name...)
		if bytes.Contains(code, pat) {
			return true
		}
	}
	return false
}
