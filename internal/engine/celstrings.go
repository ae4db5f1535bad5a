package engine

import (
	"errors"
	"reflect"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// celStrings is a []string as a CEL list, read in place. The ordinary list converts every
// element to a CEL value up front, allocating for each, while conditions read a few elements of
// a few lists per decision. Size, indexing, membership and iteration are answered here; anything
// rarer (equality, conversion, concatenation) is handed to the ordinary list, built on first
// need. A decision keeps its celStrings with its other per-command facts, so reading a list
// allocates nothing but the strings it hands out.
type celStrings struct {
	s        []string
	ordinary traits.Lister
}

var _ traits.Lister = (*celStrings)(nil)

func (l *celStrings) list() traits.Lister {
	if l.ordinary == nil {
		l.ordinary = types.NewStringList(celAdapter(), l.s)
	}
	return l.ordinary
}

// Add implements traits.Adder.
func (l *celStrings) Add(other ref.Val) ref.Val { return l.list().Add(other) }

// Contains implements traits.Container.
func (l *celStrings) Contains(elem ref.Val) ref.Val {
	s, ok := elem.(types.String)
	if !ok {
		return l.list().Contains(elem)
	}
	for _, v := range l.s {
		if v == string(s) {
			return types.True
		}
	}
	return types.False
}

// Get implements traits.Indexer.
func (l *celStrings) Get(index ref.Val) ref.Val {
	if i, ok := index.(types.Int); ok && i >= 0 && int64(i) < int64(len(l.s)) {
		return types.String(l.s[i])
	}
	return l.list().Get(index) // the ordinary list's errors for a bad index
}

// Size implements traits.Sizer.
func (l *celStrings) Size() ref.Val { return types.Int(len(l.s)) }

// IsZeroValue reports whether the list is empty, as the ordinary list does.
func (l *celStrings) IsZeroValue() bool { return len(l.s) == 0 }

// Iterator implements traits.Iterable.
func (l *celStrings) Iterator() traits.Iterator { return &celStringsIterator{s: l.s} }

// ConvertToNative implements ref.Val.
func (l *celStrings) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return l.list().ConvertToNative(typeDesc)
}

// ConvertToType implements ref.Val.
func (l *celStrings) ConvertToType(typeVal ref.Type) ref.Val { return l.list().ConvertToType(typeVal) }

// Equal implements ref.Val.
func (l *celStrings) Equal(other ref.Val) ref.Val { return l.list().Equal(other) }

// Type implements ref.Val.
func (l *celStrings) Type() ref.Type { return types.ListType }

// Value implements ref.Val.
func (l *celStrings) Value() any { return l.s }

// celStringsIterator walks a celStrings.
type celStringsIterator struct {
	s []string
	i int
}

var errIteratorOp = errors.New("iterators support no other operation")

func (it *celStringsIterator) HasNext() ref.Val { return types.Bool(it.i < len(it.s)) }

func (it *celStringsIterator) Next() ref.Val {
	if it.i >= len(it.s) {
		return nil
	}
	it.i++
	return types.String(it.s[it.i-1])
}

func (it *celStringsIterator) ConvertToNative(reflect.Type) (any, error) { return nil, errIteratorOp }
func (it *celStringsIterator) ConvertToType(ref.Type) ref.Val {
	return types.NewErr("%v", errIteratorOp)
}
func (it *celStringsIterator) Equal(ref.Val) ref.Val { return types.NewErr("%v", errIteratorOp) }
func (it *celStringsIterator) Type() ref.Type        { return types.IteratorType }
func (it *celStringsIterator) Value() any            { return nil }
