/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dl_rtldnext: dlsym(RTLD_NEXT) and dlsym(RTLD_DEFAULT) go through the
 * preloaded library's dlsym, and must still answer relative to the caller.
 * RTLD_NEXT from this executable searches the objects after it, the first
 * being libsoftmig.so itself: "softmig_version" must be found there (a
 * dlsym that called glibc from inside libsoftmig.so would search after it
 * and find nothing).  Prints the object each lookup landed in.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static const char *where(void *p)
{
	Dl_info info;
	const char *slash;

	if (!p || !dladdr(p, &info) || !info.dli_fname)
		return "none";
	slash = strrchr(info.dli_fname, '/');
	return slash ? slash + 1 : info.dli_fname;
}

int main(void)
{
	printf("next=%s default=%s getpid=%s\n", where(dlsym(RTLD_NEXT, "softmig_version")),
	       where(dlsym(RTLD_DEFAULT, "softmig_version")), where(dlsym(RTLD_NEXT, "getpid")));
	return 0;
}
