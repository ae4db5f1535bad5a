package scan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cavra-dev/cavra"
)

// Limits that keep a hostile pickle from making the walker hold unbounded state. Real
// checkpoints stay far below them: picklers batch APPENDS/SETITEMS by 1000.
const (
	maxPickleStack = 1 << 18
	maxPickleMemo  = 1 << 23
	// maxInternBytes bounds the distinct short strings a walk keeps (13 bytes of memo per entry
	// plus the strings themselves: a walk holds at most ~170 MB whatever the input).
	maxInternBytes = 64 << 20
	// maxKeptString is the longest string operand the walker keeps (module and attribute names
	// for STACK_GLOBAL); longer ones are skipped and count as unresolvable.
	maxKeptString = 1024
	pickleBufSize = 64 << 10
)

// legacyTorchMagic is the LONG1 payload of the first pickle of a pre-1.6 torch.save file.
var legacyTorchMagic = []byte{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

type pvalKind uint8

const (
	pvOther   pvalKind = iota
	pvStr              // a str value short enough to keep: string id a
	pvGlobal           // an imported callable: module id a, name id b
	pvObj              // the result of calling or instantiating a global: module id a, name id b
	pvDropped          // a string the walker could not keep because its string table was full
)

// pval is what the walker knows about one stack or memo value. Strings live in the walker's
// intern table and are referenced by id, so values hold no pointers: pushing them is cheap and
// the garbage collector never scans the stack or memo.
type pval struct {
	kind pvalKind
	a, b uint32
}

// pickleResult is what a walk learned besides its findings.
type pickleResult struct {
	pickles     int
	legacyTorch bool
	// modules maps the top-level package of every import to true (format hints: torch, joblib).
	modules  map[string]bool
	consumed int64
}

type pickleErrKind int

const (
	pickleCorrupt pickleErrKind = iota
	pickleTruncated
	pickleTooComplex
)

type pickleError struct {
	kind pickleErrKind
	at   int64
	msg  string
}

func (e *pickleError) Error() string { return e.msg }

type pickleWalker struct {
	ctx   context.Context
	rules *Rules
	sc    scope
	br    *bufio.Reader
	base  int64 // absolute file offset of the stream's first byte
	pos   int64 // bytes consumed
	size  int64 // bytes in the stream, or -1 when unknown
	stack []pval
	marks []int
	// memo holds dense indexes (what picklers write) in a slice and sparse ones in a map.
	memo       []pval
	memoSet    []bool
	memoSparse map[uint64]pval
	memoCount  int
	// strTab interns short strings (module and key names repeat thousands of times); values
	// refer to them by index.
	strTab   []string
	strIdx   map[string]uint32
	strBytes int
	// classified caches import tiers per module and name.
	classified map[[2]string]importClass
	res        pickleResult
	// rawFollows: a joblib NumpyArrayWrapper was just built; its array bytes follow in the stream.
	rawFollows bool
}

// walkPickles walks every pickle in r (stacked pickles included) without executing anything and
// reports imports by tier plus any damage. base is r's offset within the file (for locations),
// size the number of bytes r holds or -1.
func walkPickles(ctx context.Context, r io.Reader, base, size int64, rules *Rules, sc scope) pickleResult {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < pickleBufSize {
		br = bufio.NewReaderSize(r, pickleBufSize)
	}
	w := &pickleWalker{ctx: ctx, rules: rules, sc: sc, br: br, base: base, size: size,
		memoSparse: map[uint64]pval{}, strIdx: map[string]uint32{}, classified: map[[2]string]importClass{},
		res: pickleResult{modules: map[string]bool{}}}
	w.run()
	w.res.consumed = w.pos
	return w.res
}

func (w *pickleWalker) run() {
	for {
		err := w.walkOne()
		if err != nil {
			w.report(err)
			return
		}
		w.res.pickles++
		if w.res.legacyTorch && w.res.pickles == 5 {
			// Legacy torch.save: magic, protocol, sys_info, object, storage keys; raw storage bytes follow.
			return
		}
		if _, err := w.br.Peek(1); err != nil {
			if !errors.Is(err, io.EOF) {
				w.report(&pickleError{kind: pickleCorrupt, at: w.pos, msg: "read: " + err.Error()})
			}
			return
		}
		// More bytes after STOP: a stacked pickle (pickle.load called again reads it).
		w.stack, w.marks = w.stack[:0], w.marks[:0]
		w.memo, w.memoSet, w.memoCount = w.memo[:0], w.memoSet[:0], 0
		clear(w.memoSparse)
	}
}

func (w *pickleWalker) report(err error) {
	var pe *pickleError
	if !errors.As(err, &pe) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			w.sc.add("scan.cancelled", cavra.SeverityInfo, "", "scan cancelled before the pickle stream was fully read")
			return
		}
		pe = &pickleError{kind: pickleCorrupt, at: w.pos, msg: err.Error()}
	}
	loc := offset(w.base + pe.at)
	if w.rawFollows {
		// joblib writes array bytes straight into the stream after a NumpyArrayWrapper and the
		// unpickler resumes after them. The opcode walk cannot find that point, so the rest of
		// the stream is searched for imports of dangerous modules instead.
		w.sc.add("pickle.inline-array-data", cavra.SeverityInfo, loc,
			"stream continues with joblib inline array bytes; the opcode walk stops there and the rest is searched for dangerous imports")
		w.scanTail()
		return
	}
	switch pe.kind {
	case pickleTruncated:
		w.sc.add("pickle.truncated", cavra.SeverityMedium, loc, "pickle stream ends early: %s (findings above cover what came before)", pe.msg)
	case pickleTooComplex:
		w.sc.add("pickle.too-complex", cavra.SeverityMedium, loc, "walk stopped: %s", pe.msg)
	default:
		w.sc.add("pickle.corrupt", cavra.SeverityMedium, loc, "pickle stream is damaged: %s (findings above cover what came before)", pe.msg)
	}
}

func (w *pickleWalker) corrupt(at int64, format string, args ...any) error {
	return &pickleError{kind: pickleCorrupt, at: at, msg: fmt.Sprintf(format, args...)}
}

func (w *pickleWalker) truncated(format string, args ...any) error {
	return &pickleError{kind: pickleTruncated, at: w.pos, msg: fmt.Sprintf(format, args...)}
}

func (w *pickleWalker) readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return w.truncated("end of data inside %s", what)
	}
	return w.corrupt(w.pos, "read %s: %v", what, err)
}

func (w *pickleWalker) readByte(what string) (byte, error) {
	b, err := w.br.ReadByte()
	if err != nil {
		return 0, w.readErr(err, what)
	}
	w.pos++
	return b, nil
}

// readFixed returns n (<= 8) bytes; the slice is valid until the next read.
func (w *pickleWalker) readFixed(n int, what string) ([]byte, error) {
	b, err := w.br.Peek(n)
	if err != nil {
		return nil, w.readErr(err, what)
	}
	w.br.Discard(n) //nolint:errcheck // Peek guaranteed n bytes
	w.pos += int64(n)
	return b, nil
}

func (w *pickleWalker) readUint(n int, what string) (uint64, error) {
	b, err := w.readFixed(n, what)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(b)), nil
	default:
		return binary.LittleEndian.Uint64(b), nil
	}
}

// readLine reads a protocol-0 argument line without its newline; valid until the next read.
func (w *pickleWalker) readLine(what string) ([]byte, error) {
	line, err := w.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, w.corrupt(w.pos, "%s argument line longer than %d bytes", what, pickleBufSize)
		}
		return nil, w.readErr(err, what)
	}
	w.pos += int64(len(line))
	return line[:len(line)-1], nil
}

// readData consumes a length-prefixed operand. Lengths are checked against the bytes that
// remain, so a hostile length never makes the walker allocate or wait for data that is not there.
func (w *pickleWalker) readData(n uint64, what string, keep bool) (pval, bool, error) {
	if w.size >= 0 && n > uint64(w.size-w.pos) {
		return pval{}, false, w.truncated("%s declares %d bytes but only %d remain", what, n, w.size-w.pos)
	}
	if n > math.MaxInt64/2 {
		return pval{}, false, w.truncated("%s declares %d bytes", what, n)
	}
	if keep && n <= maxKeptString {
		b, err := w.br.Peek(int(n))
		if err != nil {
			return pval{}, false, w.readErr(err, what)
		}
		v := w.strVal(b)
		w.br.Discard(int(n)) //nolint:errcheck // Peek guaranteed n bytes
		w.pos += int64(n)
		return v, true, nil
	}
	d, err := w.br.Discard(int(n))
	w.pos += int64(d)
	if err != nil {
		return pval{}, false, w.readErr(err, what)
	}
	return pval{}, false, nil
}

func (w *pickleWalker) push(v pval) error {
	if len(w.stack) >= maxPickleStack {
		return &pickleError{kind: pickleTooComplex, at: w.pos, msg: fmt.Sprintf("stack deeper than %d values", maxPickleStack)}
	}
	w.stack = append(w.stack, v)
	return nil
}

func (w *pickleWalker) floor() int {
	if len(w.marks) == 0 {
		return 0
	}
	return w.marks[len(w.marks)-1]
}

func (w *pickleWalker) pop(at int64, op string) (pval, error) {
	if len(w.stack) <= w.floor() {
		return pval{}, w.corrupt(at, "%s on an empty stack", op)
	}
	v := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	return v, nil
}

func (w *pickleWalker) top(at int64, op string) (pval, error) {
	if len(w.stack) <= w.floor() {
		return pval{}, w.corrupt(at, "%s on an empty stack", op)
	}
	return w.stack[len(w.stack)-1], nil
}

// popMark removes everything above the last MARK and the mark itself; it returns the first
// value above the mark, which OBJ needs.
func (w *pickleWalker) popMark(at int64, op string) (pval, bool, error) {
	if len(w.marks) == 0 {
		return pval{}, false, w.corrupt(at, "%s without a MARK", op)
	}
	m := w.marks[len(w.marks)-1]
	w.marks = w.marks[:len(w.marks)-1]
	var first pval
	has := len(w.stack) > m
	if has {
		first = w.stack[m]
	}
	w.stack = w.stack[:m]
	return first, has, nil
}

func (w *pickleWalker) memoPut(idx uint64, at int64) error {
	v, err := w.top(at, "memo put")
	if err != nil {
		return err
	}
	if idx < maxPickleMemo {
		if len(w.memoSparse) > 0 {
			// An index stored sparsely earlier now falls in the dense part: keep one copy so
			// the entry count (MEMOIZE's next index) matches Python's len(memo).
			if _, ok := w.memoSparse[idx]; ok && idx <= uint64(len(w.memo))+1024 {
				delete(w.memoSparse, idx)
				w.memoCount--
			}
		}
		if idx == uint64(len(w.memo)) { // the usual case: picklers number the memo in order
			w.memo, w.memoSet = append(w.memo, v), append(w.memoSet, true)
			w.memoCount++
			return nil
		}
		if idx > uint64(len(w.memo))+1024 {
			// Far beyond the dense part: a hostile index must not make the walker allocate
			// memory out of proportion to the input, so it goes to the sparse map.
			return w.memoPutSparse(idx, v, at)
		}
		if idx > uint64(len(w.memo)) {
			w.memo = append(w.memo, make([]pval, idx+1-uint64(len(w.memo)))...)
			w.memoSet = append(w.memoSet, make([]bool, idx+1-uint64(len(w.memoSet)))...)
		}
		if !w.memoSet[idx] {
			w.memoCount++
		}
		w.memo[idx], w.memoSet[idx] = v, true
		return nil
	}
	return w.memoPutSparse(idx, v, at)
}

func (w *pickleWalker) memoPutSparse(idx uint64, v pval, at int64) error {
	if _, exists := w.memoSparse[idx]; !exists {
		if len(w.memoSparse) >= 1<<16 {
			return &pickleError{kind: pickleTooComplex, at: at, msg: "too many sparse memo indexes"}
		}
		w.memoCount++
	}
	w.memoSparse[idx] = v
	return nil
}

func (w *pickleWalker) memoGet(idx uint64, at int64) error {
	if idx < uint64(len(w.memo)) && w.memoSet[idx] {
		return w.push(w.memo[idx])
	}
	v, ok := w.memoSparse[idx]
	if !ok {
		return w.corrupt(at, "memo get of unset index %d", idx)
	}
	return w.push(v)
}

// intern returns the id of b in the string table, adding it when there is room.
func (w *pickleWalker) intern(b []byte) (uint32, bool) {
	if id, ok := w.strIdx[string(b)]; ok {
		return id, true
	}
	if w.strBytes+len(b) > maxInternBytes {
		return 0, false
	}
	s := string(b)
	id := uint32(len(w.strTab))
	w.strTab = append(w.strTab, s)
	w.strIdx[s] = id
	w.strBytes += len(s)
	return id, true
}

// strVal makes the stack value for a decoded string.
func (w *pickleWalker) strVal(b []byte) pval {
	if id, ok := w.intern(b); ok {
		return pval{kind: pvStr, a: id}
	}
	return pval{kind: pvDropped}
}

// lineName interns a GLOBAL/INST argument line, returning its text and id.
func (w *pickleWalker) lineName(b []byte) (string, uint32, bool) {
	if id, ok := w.intern(b); ok {
		return w.strTab[id], id, true
	}
	return string(b), 0, false
}

type importClass struct {
	tier Tier
	sev  cavra.Severity
}

func lineIndex(line []byte) (uint64, bool) {
	n, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 10, 64)
	return n, err == nil
}

// importRef records one import by tier.
func (w *pickleWalker) importRef(module, name string, at int64) {
	top, _, _ := strings.Cut(module, ".")
	if len(w.res.modules) < 64 && !w.res.modules[top] {
		w.res.modules[top] = true
	}
	key := [2]string{module, name}
	ic, ok := w.classified[key]
	if !ok {
		ic.tier, ic.sev = w.rules.Classify(module, name)
		if len(w.classified) < 1<<12 {
			w.classified[key] = ic
		}
	}
	tier, sev := ic.tier, ic.sev
	switch tier {
	case TierDangerous:
		w.sc.add("pickle.dangerous-import", sev, offset(w.base+at),
			"imports %s, which can run code or reach the system when the pickle is loaded", printableRef(module, name))
	case TierSuspicious:
		w.sc.add("pickle.unknown-import", cavra.SeverityMedium, offset(w.base+at),
			"imports %s, which is neither allowlisted nor known dangerous", printableRef(module, name))
	}
}

func printableRef(module, name string) string {
	ref := module + "." + name
	if len(ref) > 200 {
		ref = ref[:200] + "..."
	}
	for _, r := range ref {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return strconv.Quote(ref)
		}
	}
	return ref
}

func (w *pickleWalker) call(callable pval) pval {
	if callable.kind == pvGlobal || callable.kind == pvObj {
		return pval{kind: pvObj, a: callable.a, b: callable.b}
	}
	return pval{}
}

// walkOne walks one pickle up to and including STOP.
func (w *pickleWalker) walkOne() error {
	var ops int
	for {
		ops++
		if ops&0xffff == 0 {
			if err := w.ctx.Err(); err != nil {
				return err
			}
		}
		at := w.pos
		op, err := w.readByte("opcode (no STOP yet)")
		if err != nil {
			return err
		}
		switch op {
		case '(': // MARK
			if len(w.marks) >= maxPickleStack {
				return &pickleError{kind: pickleTooComplex, at: at, msg: fmt.Sprintf("more than %d MARKs", maxPickleStack)}
			}
			w.marks = append(w.marks, len(w.stack))
		case '.': // STOP
			return nil
		case '0': // POP: a value, or the mark when none is above it
			if len(w.stack) > w.floor() {
				w.stack = w.stack[:len(w.stack)-1]
			} else if _, _, err := w.popMark(at, "POP"); err != nil {
				return err
			}
		case '1': // POP_MARK
			if _, _, err := w.popMark(at, "POP_MARK"); err != nil {
				return err
			}
		case '2': // DUP
			v, err := w.top(at, "DUP")
			if err != nil {
				return err
			}
			if err := w.push(v); err != nil {
				return err
			}
		case 'F', 'I', 'L': // FLOAT, INT, LONG
			if _, err := w.readLine("number"); err != nil {
				return err
			}
			if err := w.push(pval{}); err != nil {
				return err
			}
		case 'J', 'K', 'M', 'G': // BININT, BININT1, BININT2, BINFLOAT
			n := 4
			if op == 'G' {
				n = 8
			} else if op == 'K' {
				n = 1
			} else if op == 'M' {
				n = 2
			}
			if _, err := w.readFixed(n, "int"); err != nil {
				return err
			}
			if err := w.push(pval{}); err != nil {
				return err
			}
		case 0x8a, 0x8b: // LONG1, LONG4
			width := 1
			if op == 0x8b {
				width = 4
			}
			n, err := w.readUint(width, "long length")
			if err != nil {
				return err
			}
			v, kept, err := w.readData(n, "long", w.res.pickles == 0 && n == uint64(len(legacyTorchMagic)))
			if err != nil {
				return err
			}
			if kept && v.kind == pvStr && w.res.pickles == 0 && op == 0x8a && w.strTab[v.a] == string(legacyTorchMagic) {
				w.res.legacyTorch = true
			}
			if err := w.push(pval{}); err != nil {
				return err
			}
		case 'S': // STRING: a quoted Python literal
			line, err := w.readLine("STRING")
			if err != nil {
				return err
			}
			s, ok := decodeStringLiteral(line)
			if !ok {
				return w.corrupt(at, "STRING argument is not a quoted literal")
			}
			if err := w.push(w.strVal([]byte(s))); err != nil {
				return err
			}
		case 'V': // UNICODE: raw-unicode-escape
			line, err := w.readLine("UNICODE")
			if err != nil {
				return err
			}
			if err := w.push(w.strVal([]byte(decodeRawUnicodeEscape(line)))); err != nil {
				return err
			}
		case 'T', 'U', 'X', 0x8c, 0x8d, 'B', 'C', 0x8e, 0x96:
			// BINSTRING, SHORT_BINSTRING, BINUNICODE, SHORT_BINUNICODE, BINUNICODE8,
			// BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
			width := 4
			switch op {
			case 'U', 0x8c, 'C':
				width = 1
			case 0x8d, 0x8e, 0x96:
				width = 8
			}
			n, err := w.readUint(width, "string length")
			if err != nil {
				return err
			}
			isText := op != 'B' && op != 'C' && op != 0x8e && op != 0x96
			v, _, err := w.readData(n, "string", isText)
			if err != nil {
				return err
			}
			if err := w.push(v); err != nil {
				return err
			}
		case 'N', 0x88, 0x89, ']', ')', '}', 0x8f, 0x98: // NONE, NEWTRUE, NEWFALSE, empties, NEXT_BUFFER
			if err := w.push(pval{}); err != nil {
				return err
			}
		case 0x97: // READONLY_BUFFER: same value, now read-only
			if _, err := w.top(at, "READONLY_BUFFER"); err != nil {
				return err
			}
		case 'a': // APPEND
			if _, err := w.pop(at, "APPEND"); err != nil {
				return err
			}
			if _, err := w.top(at, "APPEND"); err != nil {
				return err
			}
		case 'e', 'u', 0x90: // APPENDS, SETITEMS, ADDITEMS
			if _, _, err := w.popMark(at, "APPENDS/SETITEMS"); err != nil {
				return err
			}
			if _, err := w.top(at, "APPENDS/SETITEMS"); err != nil {
				return err
			}
		case 'l', 't', 'd', 0x91: // LIST, TUPLE, DICT, FROZENSET
			if _, _, err := w.popMark(at, "collection"); err != nil {
				return err
			}
			if err := w.push(pval{}); err != nil {
				return err
			}
		case 0x85, 0x86, 0x87: // TUPLE1..3
			for i := 0; i < int(op-0x84); i++ {
				if _, err := w.pop(at, "TUPLE"); err != nil {
					return err
				}
			}
			if err := w.push(pval{}); err != nil {
				return err
			}
		case 's': // SETITEM
			for range 2 {
				if _, err := w.pop(at, "SETITEM"); err != nil {
					return err
				}
			}
			if _, err := w.top(at, "SETITEM"); err != nil {
				return err
			}
		case 'g', 'p': // GET, PUT
			line, err := w.readLine("memo index")
			if err != nil {
				return err
			}
			idx, ok := lineIndex(line)
			if !ok {
				return w.corrupt(at, "memo index is not a number")
			}
			if op == 'g' {
				err = w.memoGet(idx, at)
			} else {
				err = w.memoPut(idx, at)
			}
			if err != nil {
				return err
			}
		case 'h', 'j', 'q', 'r': // BINGET, LONG_BINGET, BINPUT, LONG_BINPUT
			width := 1
			if op == 'j' || op == 'r' {
				width = 4
			}
			idx, err := w.readUint(width, "memo index")
			if err != nil {
				return err
			}
			if op == 'h' || op == 'j' {
				err = w.memoGet(idx, at)
			} else {
				err = w.memoPut(idx, at)
			}
			if err != nil {
				return err
			}
		case 0x94: // MEMOIZE
			if err := w.memoPut(uint64(w.memoCount), at); err != nil {
				return err
			}
		case 'c', 'i': // GLOBAL, INST
			modLine, err := w.readLine("module name")
			if err != nil {
				return err
			}
			module, modID, modKept := w.lineName(modLine)
			nameLine, err := w.readLine("attribute name")
			if err != nil {
				return err
			}
			name, nameID, nameKept := w.lineName(nameLine)
			w.importRef(module, name, at)
			v := pval{}
			if modKept && nameKept {
				v = pval{kind: pvGlobal, a: modID, b: nameID}
			}
			if op == 'i' {
				if _, _, err := w.popMark(at, "INST"); err != nil {
					return err
				}
				if v.kind == pvGlobal {
					v.kind = pvObj
				}
			}
			if err := w.push(v); err != nil {
				return err
			}
		case 0x93: // STACK_GLOBAL
			name, err := w.pop(at, "STACK_GLOBAL")
			if err != nil {
				return err
			}
			module, err := w.pop(at, "STACK_GLOBAL")
			if err != nil {
				return err
			}
			v := pval{}
			switch {
			case module.kind == pvStr && name.kind == pvStr:
				w.importRef(w.strTab[module.a], w.strTab[name.a], at)
				v = pval{kind: pvGlobal, a: module.a, b: name.a}
			case module.kind == pvDropped || name.kind == pvDropped:
				w.sc.add("pickle.too-complex", cavra.SeverityMedium, offset(w.base+at),
					"STACK_GLOBAL operands were not kept: the pickle holds more than %d bytes of distinct strings", maxInternBytes)
			default:
				w.sc.add("pickle.unresolved-global", cavra.SeverityHigh, offset(w.base+at),
					"STACK_GLOBAL operands are not literal strings (module %s, name %s): the import is computed at load time",
					w.describe(module), w.describe(name))
			}
			if err := w.push(v); err != nil {
				return err
			}
		case 'o': // OBJ: class and args above the mark
			first, has, err := w.popMark(at, "OBJ")
			if err != nil {
				return err
			}
			if !has {
				return w.corrupt(at, "OBJ without a class")
			}
			if err := w.push(w.call(first)); err != nil {
				return err
			}
		case 'R', 0x81: // REDUCE, NEWOBJ
			if _, err := w.pop(at, "REDUCE"); err != nil {
				return err
			}
			callable, err := w.pop(at, "REDUCE")
			if err != nil {
				return err
			}
			if err := w.push(w.call(callable)); err != nil {
				return err
			}
		case 0x92: // NEWOBJ_EX
			for range 2 {
				if _, err := w.pop(at, "NEWOBJ_EX"); err != nil {
					return err
				}
			}
			cls, err := w.pop(at, "NEWOBJ_EX")
			if err != nil {
				return err
			}
			if err := w.push(w.call(cls)); err != nil {
				return err
			}
		case 'b': // BUILD
			if _, err := w.pop(at, "BUILD"); err != nil {
				return err
			}
			obj, err := w.top(at, "BUILD")
			if err != nil {
				return err
			}
			if obj.kind == pvObj && w.strTab[obj.a] == "joblib.numpy_pickle" {
				w.rawFollows = true
			}
		case 0x80: // PROTO
			p, err := w.readByte("protocol")
			if err != nil {
				return err
			}
			if p > 5 {
				return w.corrupt(at, "unsupported pickle protocol %d", p)
			}
		case 0x95: // FRAME: a length hint only
			if _, err := w.readUint(8, "frame length"); err != nil {
				return err
			}
		case 0x82, 0x83, 0x84: // EXT1, EXT2, EXT4: imports through the copyreg extension registry
			width := 1 << (op - 0x82)
			code, err := w.readUint(width, "extension code")
			if err != nil {
				return err
			}
			w.sc.add("pickle.extension-import", cavra.SeverityMedium, offset(w.base+at),
				"imports through copyreg extension code %d, which cannot be resolved statically", code)
			if err := w.push(pval{}); err != nil {
				return err
			}
		case 'P': // PERSID
			if _, err := w.readLine("persistent id"); err != nil {
				return err
			}
			if err := w.push(pval{}); err != nil {
				return err
			}
		case 'Q': // BINPERSID
			if _, err := w.pop(at, "BINPERSID"); err != nil {
				return err
			}
			if err := w.push(pval{}); err != nil {
				return err
			}
		default:
			return w.corrupt(at, "unknown opcode 0x%02x", op)
		}
	}
}

func (w *pickleWalker) describe(v pval) string {
	switch v.kind {
	case pvStr:
		return strconv.Quote(w.strTab[v.a])
	case pvGlobal:
		return "import " + printableRef(w.strTab[v.a], w.strTab[v.b])
	case pvObj:
		return "result of " + printableRef(w.strTab[v.a], w.strTab[v.b])
	default:
		return "unknown value"
	}
}

// decodeStringLiteral decodes a protocol-0 STRING argument the way Python's escape_decode does.
func decodeStringLiteral(line []byte) (string, bool) {
	line = bytes.TrimRight(line, "\r")
	if len(line) < 2 || line[0] != line[len(line)-1] || (line[0] != '\'' && line[0] != '"') {
		return "", false
	}
	in := line[1 : len(line)-1]
	var out strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' || i+1 >= len(in) {
			out.WriteByte(c)
			continue
		}
		i++
		switch e := in[i]; e {
		case '\\', '\'', '"':
			out.WriteByte(e)
		case 'a':
			out.WriteByte('\a')
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'v':
			out.WriteByte('\v')
		case '\n':
		case 'x':
			if i+2 < len(in) {
				if v, err := strconv.ParseUint(string(in[i+1:i+3]), 16, 8); err == nil {
					out.WriteByte(byte(v))
					i += 2
					continue
				}
			}
			return "", false
		default:
			if e >= '0' && e <= '7' {
				v := int(e - '0')
				for k := 0; k < 2 && i+1 < len(in) && in[i+1] >= '0' && in[i+1] <= '7'; k++ {
					i++
					v = v*8 + int(in[i]-'0')
				}
				out.WriteByte(byte(v))
				continue
			}
			out.WriteByte('\\')
			out.WriteByte(e)
		}
	}
	return out.String(), true
}

// decodeRawUnicodeEscape decodes Python's raw-unicode-escape: \uXXXX and \UXXXXXXXX are
// escapes, every other byte is a Latin-1 character.
func decodeRawUnicodeEscape(line []byte) string {
	var out strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' && i+1 < len(line) && (line[i+1] == 'u' || line[i+1] == 'U') {
			n := 4
			if line[i+1] == 'U' {
				n = 8
			}
			if i+2+n <= len(line) {
				if v, err := strconv.ParseUint(string(line[i+2:i+2+n]), 16, 32); err == nil && v <= maxUnicode {
					out.WriteRune(rune(v))
					i += 1 + n
					continue
				}
			}
		}
		out.WriteRune(rune(c))
	}
	return out.String()
}

const maxUnicode = 0x10FFFF

// maxTailScan bounds the byte search after joblib array data.
const maxTailScan = 4 << 30

// scanTail searches the unwalked rest of the stream for the encodings a pickle uses to import a
// dangerous module (GLOBAL "cmodule\n", SHORT_BINUNICODE, BINUNICODE).
func (w *pickleWalker) scanTail() {
	patterns := w.rules.tailPatterns()
	const overlap = 64
	buf := make([]byte, 0, 1<<20+overlap)
	var scanned int64
	for scanned < maxTailScan {
		if err := w.ctx.Err(); err != nil {
			return
		}
		start := w.pos - int64(len(buf))
		n, err := io.ReadFull(w.br, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		w.pos += int64(n)
		scanned += int64(n)
		for _, p := range patterns {
			if i := bytes.Index(buf, p.pattern); i >= 0 {
				w.sc.add("pickle.import-in-unwalked-data", cavra.SeverityHigh, offset(w.base+start+int64(i)),
					"bytes after joblib array data encode an import of %s", p.module)
				return
			}
		}
		if err != nil {
			return
		}
		keep := min(overlap, len(buf))
		copy(buf, buf[len(buf)-keep:])
		buf = buf[:keep]
	}
}
