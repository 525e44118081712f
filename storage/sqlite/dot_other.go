//go:build !amd64

package sqlite

// dot is the dot product of a and b (as long as a).
func dot(a, b []float32) float32 { return dotGeneric(a, b) }
