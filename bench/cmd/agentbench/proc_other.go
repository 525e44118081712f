//go:build !unix

package main

// raiseFileLimit leaves the open-files limit as it is on this platform.
func raiseFileLimit() {}
