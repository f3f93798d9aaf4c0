/*
 * dl_procaddr: like cudart 12/13, dlopen libcuda.so.1, take
 * cuGetProcAddress_v2 with dlsym and get every other function through it;
 * then run probe.h commands.  Environment: SIM_PROBE_CUDA_VERSION (the
 * cudaVersion asked for, default 13000), SIM_PROBE_FLAGS (0 default,
 * 1 legacy stream, 2 per-thread default stream).
 *
 * One extra command queries the driver directly:
 *   proc:<symbol>:<cudaVersion>:<flags>[:<exported name>]
 * prints "proc rc=<CUresult> status=<query result> sym=<symbol> name=<the
 * exported symbol at the returned address, by dladdr> match=<1 if the
 * returned pointer equals dlsym(libcuda, exported name)>".
 */
#include "probe.h"

typedef CUresult (*getproc_fn)(const char *, void **, int, cuuint64_t,
			       CUdriverProcAddressQueryResult *);

static void *lib;
static getproc_fn getproc;

static CUresult missing(void)
{
	return CUDA_ERROR_NOT_FOUND;
}

static int proc_cmd(char *word)
{
	char *args[5] = {0};
	int n = 0;
	void *fn = NULL;
	CUdriverProcAddressQueryResult st = (CUdriverProcAddressQueryResult)-1;
	Dl_info info;
	CUresult r;

	for (char *s = strchr(word, ':'); s && n < 5; s = strchr(s, ':')) {
		*s++ = 0;
		args[n++] = s;
	}
	if (n < 3)
		return -1;
	r = getproc(args[0], &fn, atoi(args[1]), strtoull(args[2], NULL, 0), &st);
	printf("proc rc=%d status=%d sym=%s name=%s", r, (int)st, args[0],
	       fn && dladdr(fn, &info) && info.dli_sname ? info.dli_sname : "-");
	if (args[3])
		printf(" match=%d", fn && fn == dlsym(lib, args[3]));
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	static struct probe_api api;
	static struct probe p;
	const char *v = getenv("SIM_PROBE_CUDA_VERSION"), *f = getenv("SIM_PROBE_FLAGS");
	int version = v ? atoi(v) : 13000;
	cuuint64_t flags = f ? strtoull(f, NULL, 0) : 0;
	void **slot = (void **)&api;
	void *self = NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	lib = dlopen("libcuda.so.1", RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "dl_procaddr: %s\n", dlerror());
		return 3;
	}
	*(void **)&getproc = dlsym(lib, "cuGetProcAddress_v2");
	if (!getproc) {
		fprintf(stderr, "dl_procaddr: no cuGetProcAddress_v2\n");
		return 3;
	}
	/* cudart asks for cuGetProcAddress itself first. */
	if (getproc("cuGetProcAddress", &self, version, flags, NULL) == CUDA_SUCCESS && self)
		getproc = (getproc_fn)self;
	for (size_t i = 0; i < sizeof probe_syms / sizeof probe_syms[0]; i++) {
		int ver = probe_syms[i].version ? probe_syms[i].version : version;
		if (getproc(probe_syms[i].base, &slot[i], ver, flags, NULL) != CUDA_SUCCESS ||
		    !slot[i]) {
			fprintf(stderr, "dl_procaddr: %s not found for version %d\n",
				probe_syms[i].base, ver);
			slot[i] = (void *)missing;
		}
	}
	p.a = &api;
	for (int i = 1; i < argc; i++) {
		int r = strncmp(argv[i], "proc:", 5) == 0 ? proc_cmd(argv[i]) : probe_cmd(&p, argv[i]);
		if (r < 0) {
			fprintf(stderr, "dl_procaddr: bad command \"%s\"\n", argv[i]);
			return 2;
		}
	}
	return p.failed;
}
