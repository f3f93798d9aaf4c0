// SPDX-License-Identifier: Apache-2.0

// Package libprobe asks a shared library which version it is: it dlopens the
// library with RTLD_NOW (every symbol bound, constructors run) and calls its
// `const char *softmig_version(void)`. softmig-install runs it in a fresh
// process that has the candidate library preloaded, so a library that
// crashes on load (a constructor that faults, a truncated file that the
// loader maps past its end and touches: SIGBUS) kills only that process.
package libprobe

import "errors"

// Symbol is the function every libsoftmig.so exports to say what it is.
const Symbol = "softmig_version"

// ErrNotPreloaded means the process was asked to check that the library had
// been preloaded, and the dynamic loader had not loaded it.
var ErrNotPreloaded = errors.New("the library is not loaded in this process (the dynamic loader refused to preload it)")

// ErrNoCgo means this program was built without cgo and cannot call into a
// C library.
var ErrNoCgo = errors.New("softmig-install was built without cgo and cannot call softmig_version(); rebuild it with CGO_ENABLED=1")
