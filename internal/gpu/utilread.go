// SPDX-License-Identifier: Apache-2.0

package gpu

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

typedef int (*sm_util_fn)(void *dev, void *samples, unsigned int *n, unsigned long long since);
typedef int (*sm_byuuid_fn)(const char *uuid, void **dev);

static int sm_call_util(void *f, void *dev, void *samples, unsigned int *n, unsigned long long since)
{
	return ((sm_util_fn)f)(dev, samples, n, since);
}

static int sm_call_byuuid(void *f, const char *uuid, void **dev)
{
	return ((sm_byuuid_fn)f)(uuid, dev);
}

static void *sm_sym(const char *lib, const char *name)
{
	// The library go-nvml loaded and initialised: the same handle, NVML's
	// state shared (RTLD_NOLOAD: never a second copy).
	void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
	void *f = h ? dlsym(h, name) : NULL;
	if (h)
		dlclose(h);
	return f;
}
*/
import "C"

import (
	"sync"
	"unsafe"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// utilReader reads a device's utilisation samples in one call into a
// buffer it keeps. go-nvml makes two (one to size its buffer, then the
// read), and on an H100 each read of the samples costs the driver about a
// millisecond of CPU (test/gpu/nvml_cost.c): the node daemon's largest
// NVML cost by far.
type utilReader struct {
	util, byUUID unsafe.Pointer // the library's functions
	mu           sync.Mutex
	handles      map[string]unsafe.Pointer // by UUID
	buf          []nvml.ProcessUtilizationSample
}

// newUtilReader finds the two functions in the NVML library that go-nvml
// loaded from library ("" for libnvidia-ml.so.1); nil when it cannot.
func newUtilReader(library string) *utilReader {
	if library == "" {
		library = "libnvidia-ml.so.1"
	}
	lib := C.CString(library)
	defer C.free(unsafe.Pointer(lib))
	sym := func(name string) unsafe.Pointer {
		s := C.CString(name)
		defer C.free(unsafe.Pointer(s))
		return C.sm_sym(lib, s)
	}
	u := &utilReader{util: sym("nvmlDeviceGetProcessUtilization"), byUUID: sym("nvmlDeviceGetHandleByUUID"),
		handles: map[string]unsafe.Pointer{}, buf: make([]nvml.ProcessUtilizationSample, 64)}
	if u.util == nil || u.byUUID == nil {
		return nil
	}
	return u
}

// read returns the samples of the device with uuid taken after since (us),
// copied out of the buffer.
func (u *utilReader) read(uuid string, since uint64) ([]nvml.ProcessUtilizationSample, nvml.Return) {
	u.mu.Lock()
	defer u.mu.Unlock()
	h, ok := u.handles[uuid]
	if !ok {
		s := C.CString(uuid)
		defer C.free(unsafe.Pointer(s))
		var dev unsafe.Pointer
		if ret := nvml.Return(C.sm_call_byuuid(u.byUUID, s, &dev)); ret != nvml.SUCCESS {
			return nil, ret
		}
		h = dev
		u.handles[uuid] = h
	}
	for try := 0; ; try++ {
		n := C.uint(len(u.buf))
		ret := nvml.Return(C.sm_call_util(u.util, h, unsafe.Pointer(&u.buf[0]), &n, C.ulonglong(since)))
		if ret == nvml.ERROR_INSUFFICIENT_SIZE && try < 2 {
			u.buf = make([]nvml.ProcessUtilizationSample, 2*max(int(n), len(u.buf)))
			continue
		}
		if ret != nvml.SUCCESS || int(n) > len(u.buf) {
			return nil, ret
		}
		return append([]nvml.ProcessUtilizationSample(nil), u.buf[:n]...), ret
	}
}
