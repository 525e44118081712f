//go:build unix

package main

import "syscall"

// raiseFileLimit lifts the soft open-files limit to the hard one (the
// paced profile holds four sockets per stream in this process, six with a
// follower).
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
