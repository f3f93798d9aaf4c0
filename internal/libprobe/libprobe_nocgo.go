// SPDX-License-Identifier: Apache-2.0

//go:build !cgo

package libprobe

// Supported reports whether this build can call into a C library.
const Supported = false

// Version cannot load a library without cgo; it returns ErrNoCgo.
func Version(path string, needPreloaded bool) (string, error) {
	return "", ErrNoCgo
}
