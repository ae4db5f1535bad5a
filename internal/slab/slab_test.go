package slab

import "testing"

func TestTake(t *testing.T) {
	buf := make([]int, 0, 8)
	a := append(Take(&buf, 2), 1, 2)
	b := append(Take(&buf, 3), 3, 4, 5)
	if len(buf) != 5 {
		t.Fatalf("in use = %d, want 5", len(buf))
	}
	// Appending past what was taken must not overwrite a later slice.
	a = append(a, 99)
	if b[0] != 3 {
		t.Errorf("b[0] = %d after appending to a, want 3", b[0])
	}
	// A take that does not fit moves buf to a new array; earlier slices keep their values.
	c := append(Take(&buf, 100), 7)
	if a[0] != 1 || b[2] != 5 || c[0] != 7 {
		t.Errorf("a, b, c = %v, %v, %v", a, b, c)
	}
	if len(buf) != 100 || cap(buf) != 100 {
		t.Errorf("after moving: len %d cap %d, want 100 and 100", len(buf), cap(buf))
	}
	if z := Take(&buf, 0); len(z) != 0 || cap(z) != 0 {
		t.Errorf("Take(0) = len %d cap %d, want empty", len(z), cap(z))
	}
}

func TestRelease(t *testing.T) {
	buf := make([]*int, 0, 4)
	v := 1
	s := append(Take(&buf, 2), &v, &v)
	Release(&buf, 8)
	if len(buf) != 0 || cap(buf) != 4 {
		t.Fatalf("after Release: len %d cap %d, want 0 and 4", len(buf), cap(buf))
	}
	if s[0] != nil || s[1] != nil {
		t.Error("Release kept the pointers in use")
	}
	big := make([]*int, 0, 16)
	Release(&big, 8)
	if big != nil {
		t.Error("Release kept an array over the limit")
	}
}
