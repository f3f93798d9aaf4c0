/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dl_errstate: what dlsym leaves in errno and dlerror(), lookup by lookup.
 * Built with -rdynamic so that it finds its own curl_fake and nvmlFake (a
 * name that starts like a driver's).  Each line is
 * "<case> found=<0|1> err=<dlerror() or NULL> errno=<n>"; the test runs it
 * with and without the library, with and without a loadable libcuda.so.1,
 * and wants the same bytes.  Before each lookup errno is 4242 and, where
 * the case says "pending", an error from a failed lookup is left unread.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int curl_fake(void) { return 1; }
int nvmlFake(void) { return 2; }

static void show(const char *what, void *p)
{
	int e = errno;
	const char *err = dlerror();

	printf("%s found=%d err=%s errno=%d\n", what, p != NULL, err ? err : "NULL", e);
}

/* One lookup; pending: leave a failed lookup's error unread first. */
static void look(const char *what, void *h, const char *name, int pending)
{
	void *p;

	dlerror();
	if (pending)
		dlsym(h, "no_such_symbol_pending");
	errno = 4242;
	p = dlsym(h, name);
	show(what, p);
}

/* Names looked up in the program's own scope.  The driver's names are not
 * among them: with the library preloaded, that scope holds its hooks. */
static const char *const own[] = { "curl_fake", "nvmlFake", "cuNoSuchThing", "nvmlNoSuchThing", "main", "none", NULL };
/* Names looked up on the driver's and NVML's handles. */
static const char *const driver[] = { "cuInit", "cuMemAlloc_v2", "cuGetProcAddress", "cuNoSuchThing", "nvmlInit_v2",
				       "nvmlDeviceGetMemoryInfo", "nvmlNoSuchThing", "curl_fake", NULL };

static void cases(const char *prefix, void *h, const char *const *names)
{
	char what[128];
	int i, pending;

	for (i = 0; names[i]; i++)
		for (pending = 0; pending < 2; pending++) {
			snprintf(what, sizeof(what), "%s:%s%s", prefix, names[i], pending ? ":pending" : "");
			look(what, h, names[i], pending);
		}
}

int main(void)
{
	void *self, *cuda, *nvml, *p;

	/* The very first dlsym of the process (the library resolves glibc's
	 * own then), with an error pending. */
	dlsym(RTLD_DEFAULT, "no_such_symbol_first");
	errno = 4242;
	p = dlsym(RTLD_DEFAULT, "curl_fake");
	show("first", p);
	/* The standard check of the issue: exits 1 where it fails. */
	self = dlopen(NULL, RTLD_LAZY);
	dlerror();
	p = dlsym(self, "curl_fake");
	if (dlerror() || !p) {
		printf("standard check failed\n");
		return 1;
	}
	cases("self", self, own);
	cases("default", RTLD_DEFAULT, own);
	cases("next", RTLD_NEXT, own);
	errno = 4242;
	cuda = dlopen("libcuda.so.1", RTLD_LAZY);
	show("dlopen-libcuda", cuda);
	if (cuda)
		cases("libcuda", cuda, driver);
	errno = 4242;
	nvml = dlopen("libnvidia-ml.so.1", RTLD_LAZY);
	show("dlopen-nvml", nvml);
	if (nvml)
		cases("nvml", nvml, driver);
	/* After the library knows the driver: the self lookups again. */
	cases("self-again", self, own);
	return 0;
}
