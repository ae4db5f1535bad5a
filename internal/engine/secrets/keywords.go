package secrets

import "strings"

// keywordIndex finds which rules' keywords occur in a text, case-insensitively, as gitleaks'
// pre-filter does, without building gitleaks' detector.
//
// It walks the text once and tests two bit sets per byte: one holds the lower-cased byte pairs
// that are whole two-byte keywords, the other a hash of the lower-cased three-byte prefixes of
// longer keywords. Only where a bit is set are keywords compared, which in ordinary source is
// a fraction of a percent of positions (a pair filter alone hit 15% of a Go file). Keywords of
// one byte, or with bytes outside lower-case ASCII, are matched with strings.Contains instead
// (the default rule set has none; the path exists so that no future rule can be dropped).
type keywordIndex struct {
	pairs    [1 << 16 / 64]uint64
	triples  [1 << 16 / 64]uint64
	byPair   map[uint16][]int            // two-byte keyword -> rules
	byTriple map[uint32][]indexedKeyword // three-byte prefix -> longer keywords
	slow     []indexedKeyword
	numRules int
}

type indexedKeyword struct {
	word  string
	rules []int
}

func asciiLower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func tripleHash(t uint32) uint32 { return (t * 2654435761) >> 16 }

func newKeywordIndex(rules []ruleSpec) *keywordIndex {
	ki := &keywordIndex{
		byPair:   make(map[uint16][]int),
		byTriple: make(map[uint32][]indexedKeyword),
		numRules: len(rules),
	}
	rulesOf := make(map[string][]int)
	var order []string
	for i, r := range rules {
		for _, k := range r.Keywords {
			k = strings.ToLower(k)
			if _, seen := rulesOf[k]; !seen {
				order = append(order, k)
			}
			rulesOf[k] = append(rulesOf[k], i)
		}
	}
	for _, k := range order {
		kw := indexedKeyword{word: k, rules: rulesOf[k]}
		switch {
		case len(k) < 2 || !isLowerASCII(k):
			ki.slow = append(ki.slow, kw)
		case len(k) == 2:
			p := uint16(k[0])<<8 | uint16(k[1])
			ki.pairs[p/64] |= 1 << (p % 64)
			ki.byPair[p] = append(ki.byPair[p], kw.rules...)
		default:
			t := uint32(k[0])<<16 | uint32(k[1])<<8 | uint32(k[2])
			h := tripleHash(t)
			ki.triples[h/64] |= 1 << (h % 64)
			ki.byTriple[t] = append(ki.byTriple[t], kw)
		}
	}
	return ki
}

func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || ('A' <= s[i] && s[i] <= 'Z') {
			return false
		}
	}
	return true
}

// ruleSet is a bit set of rule indices.
type ruleSet []uint64

func (r ruleSet) set(i int)      { r[i/64] |= 1 << (i % 64) }
func (r ruleSet) has(i int) bool { return r[i/64]&(1<<(i%64)) != 0 }
func (r ruleSet) empty() bool {
	for _, w := range r {
		if w != 0 {
			return false
		}
	}
	return true
}

// rulesIn returns the rules with a keyword in text.
func (ki *keywordIndex) rulesIn(text string) ruleSet {
	hits := make(ruleSet, (ki.numRules+63)/64)
	lower := text
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			// gitleaks lower-cases with Unicode rules, under which some non-ASCII letters
			// become ASCII (the Kelvin sign becomes "k"); do the same for such texts.
			lower = strings.ToLower(text)
			break
		}
	}
	for i := 0; i+1 < len(lower); i++ {
		b0, b1 := asciiLower(lower[i]), asciiLower(lower[i+1])
		if p := uint16(b0)<<8 | uint16(b1); ki.pairs[p/64]&(1<<(p%64)) != 0 {
			for _, r := range ki.byPair[p] {
				hits.set(r)
			}
		}
		if i+2 == len(lower) {
			break
		}
		t := uint32(b0)<<16 | uint32(b1)<<8 | uint32(asciiLower(lower[i+2]))
		if h := tripleHash(t); ki.triples[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		for _, kw := range ki.byTriple[t] {
			if hasPrefixASCIIFold(lower[i:], kw.word) {
				for _, r := range kw.rules {
					hits.set(r)
				}
			}
		}
	}
	if len(ki.slow) > 0 {
		l := strings.ToLower(text)
		for _, kw := range ki.slow {
			if strings.Contains(l, kw.word) {
				for _, r := range kw.rules {
					hits.set(r)
				}
			}
		}
	}
	return hits
}

// hasPrefixASCIIFold reports whether s starts with the lower-case ASCII word, ignoring the
// case of ASCII letters in s.
func hasPrefixASCIIFold(s, word string) bool {
	if len(s) < len(word) {
		return false
	}
	for j := 0; j < len(word); j++ {
		if asciiLower(s[j]) != word[j] {
			return false
		}
	}
	return true
}
