// SPDX-License-Identifier: Apache-2.0

// Package simtest tests the simulated NVIDIA GPU: the fake libcuda.so.1 and
// libnvidia-ml.so.1 built from the C files in sim/, which CI and
// `make demo` use in place of a real driver. The tests run the C clients of
// test/cprog (cuclient, dl_client) as real processes that share one
// simulator state file; see sim/README.md for what is simulated. (The Go
// package cannot live in sim/ itself: Go refuses a directory with C files
// but no cgo.)
package simtest
