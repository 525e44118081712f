//go:build amd64

package sqlite

import "golang.org/x/sys/cpu"

// useAVX2: the CPU has AVX2 and FMA (dotAVX2's instructions).
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dot is the dot product of a and b (as long as a): 32 lanes at a time
// with AVX2 fused multiply-adds when the CPU has them, the rest in Go.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	n := len(a) &^ 31
	if !useAVX2 || n == 0 {
		return dotGeneric(a, b)
	}
	s := dotAVX2(&a[0], &b[0], n)
	for i := n; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

// dotAVX2 is the dot product of the n floats at a and b; n is a positive
// multiple of 32.
//
//go:noescape
func dotAVX2(a, b *float32, n int) float32
