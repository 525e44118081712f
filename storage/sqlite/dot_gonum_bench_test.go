package sqlite

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
)

// BenchmarkDot384 compares, in one run, the dot products of 384 floats the
// vector scan could use: the AVX2 assembly (dot), gonum's float32 BLAS
// (Sdot and blas32.Dot; SSE) and the Go loop, 1000 rows per op. It is why
// dot_amd64.s is kept: gonum measured ~1.8x slower than it.
func BenchmarkDot384(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	x, y := make([]float32, 384*1000), make([]float32, 384)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for i := range y {
		y[i] = float32(r.NormFloat64())
	}
	var sink float32
	b.Run("asm", func(b *testing.B) {
		for b.Loop() {
			for i := 0; i < 1000; i++ {
				sink += dot(y, x[i*384:i*384+384])
			}
		}
	})
	b.Run("gonum", func(b *testing.B) {
		impl := blas32.Implementation()
		for b.Loop() {
			for i := 0; i < 1000; i++ {
				sink += impl.Sdot(384, y, 1, x[i*384:i*384+384], 1)
			}
		}
	})
	b.Run("gonum-blas32-Dot", func(b *testing.B) {
		for b.Loop() {
			for i := 0; i < 1000; i++ {
				sink += blas32.Dot(blas32.Vector{N: 384, Data: y, Inc: 1}, blas32.Vector{N: 384, Data: x[i*384 : i*384+384], Inc: 1})
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			for i := 0; i < 1000; i++ {
				sink += dotGeneric(y, x[i*384:i*384+384])
			}
		}
	})
	_ = sink
}
