// SPDX-License-Identifier: Apache-2.0

//go:build cgo

package libprobe

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef const char *(*version_fn)(void);

static const char *probe_dlerror(void) {
	const char *e = dlerror();
	return e ? e : "unknown dlopen error";
}

// probe_version: 0 ok (*out set), 1 not preloaded, 2 dlopen failed (*out is the
// error), 3 no symbol, 4 the function returned NULL.
static int probe_version(const char *path, int need_preloaded, const char **out) {
	void *h;
	version_fn fn;
	*out = NULL;
	if (need_preloaded) {
		h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
		if (!h)
			return 1;
		dlclose(h);
	}
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		*out = probe_dlerror();
		return 2;
	}
	fn = (version_fn)dlsym(h, "softmig_version");
	if (!fn) {
		*out = probe_dlerror();
		return 3;
	}
	*out = fn();
	return *out ? 0 : 4;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Supported reports whether this build can call into a C library.
const Supported = true

// maxVersion bounds what is read from the library's answer.
const maxVersion = 256

// Version loads the library at path (RTLD_NOW) and returns what its
// softmig_version() answers. With needPreloaded it first checks that the
// library is already in the process (LD_PRELOAD took effect).
func Version(path string, needPreloaded bool) (string, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	need := C.int(0)
	if needPreloaded {
		need = 1
	}
	var out *C.char
	rc := C.probe_version(cpath, need, &out)
	switch rc {
	case 0:
		v := C.GoStringN(out, C.int(C.strnlen(out, maxVersion+1)))
		if len(v) > maxVersion {
			return "", fmt.Errorf("%q: %s() returned more than %d bytes", path, Symbol, maxVersion)
		}
		for _, r := range v {
			if r < 0x20 || r == 0x7f {
				return "", fmt.Errorf("%q: %s() returned a non-printable string %q", path, Symbol, v)
			}
		}
		if v == "" {
			return "", fmt.Errorf("%q: %s() returned an empty string", path, Symbol)
		}
		return v, nil
	case 1:
		return "", fmt.Errorf("%q: %w", path, ErrNotPreloaded)
	case 2:
		return "", fmt.Errorf("dlopen %q: %s", path, C.GoString(out))
	case 3:
		return "", fmt.Errorf("%q: no %s(): %s", path, Symbol, C.GoString(out))
	default:
		return "", fmt.Errorf("%q: %s() returned NULL", path, Symbol)
	}
}
