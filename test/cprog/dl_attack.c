/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dl_attack: a job process that goes around libsoftmig.so from inside: it
 * finds the driver's own functions in libcuda's dynamic symbol table (no
 * dlsym, no cuGetProcAddress: nothing the library hooks), with the library
 * still mapped, so that the guard sees no escape in its mappings.  For
 * softmig-guard's tests (cmd/softmig-guard); run it with LD_PRELOAD.
 *
 *   dl_attack pulse SIZE HOLD_MS GAP_MS SECS   SIZE for HOLD_MS, none for GAP_MS, again
 *   dl_attack lock GUARD_PID SIZE HOLD_MS SECS  SIZE for HOLD_MS after each time a
 *                                              thread of the guard ran (its schedstat)
 *   dl_attack hold SIZE                         SIZE until stdin closes
 *   dl_attack launch US SECS [CUBIN ITERS]      kernels of US microseconds (the simulator's
 *                                              "busy"), or the burn kernel of CUBIN
 *                                              (test/gpu/burner.cu) of ITERS iterations,
 *                                              synchronised every 4, for SECS
 *   dl_attack overrun END_MS TAIL_MS SECS       1 ms kernels while the time within each second
 *                                              of CLOCK_REALTIME is before END_MS (the end of
 *                                              its slot), then one of TAIL_MS queued just
 *                                              before END_MS, every second, for SECS
 *   dl_attack hide SIZE                         SIZE, then a child that keeps the driver's files
 *                                              open only above fd 5000 (0-4999 /dev/null), and
 *                                              exit; the child (child=) lives 60 s
 *   dl_attack maps N anon|PATH_LEN              first N mappings (anonymous, or of a file
 *                                              whose path is PATH_LEN bytes long), then
 *                                              a context, then waits on stdin
 *
 * Each prints "ready" once it holds what it takes (or, for pulses, after
 * its first one), and "survived" if it gets to its end.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *want;
static void *found;

static int lookup(struct dl_phdr_info *i, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (!strstr(i->dlpi_name, "libcuda.so"))
		return 0;
	for (int k = 0; k < i->dlpi_phnum; k++) {
		if (i->dlpi_phdr[k].p_type != PT_DYNAMIC)
			continue;
		ElfW(Sym) *sym = 0;
		const char *str = 0;
		for (ElfW(Dyn) *d = (void *)(i->dlpi_addr + i->dlpi_phdr[k].p_vaddr); d->d_tag != DT_NULL; d++) {
			if (d->d_tag == DT_SYMTAB)
				sym = (void *)d->d_un.d_ptr;
			if (d->d_tag == DT_STRTAB)
				str = (const char *)d->d_un.d_ptr;
		}
		for (ElfW(Sym) *p = sym; (const char *)p < str; p++)
			if (p->st_name && p->st_value && !strcmp(str + p->st_name, want)) {
				found = (void *)(i->dlpi_addr + p->st_value);
				return 1;
			}
	}
	return 0;
}

static void *real(const char *name)
{
	want = name;
	found = 0;
	dl_iterate_phdr(lookup, 0);
	if (!found) {
		fprintf(stderr, "dl_attack: no %s in libcuda\n", name);
		exit(2);
	}
	return found;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void nap_ms(double ms)
{
	struct timespec t = { (time_t)(ms / 1000), (long)((ms - 1000 * (long)(ms / 1000)) * 1e6) };
	nanosleep(&t, 0);
}

static int (*alloc_)(unsigned long long *, size_t);
static int (*free_)(unsigned long long);

static void start(void)
{
	if (!dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL))
		exit(2);
	int (*init)(unsigned) = real("cuInit");
	int (*get)(int *, int) = real("cuDeviceGet");
	int (*ctx)(void **, unsigned, int) = real("cuCtxCreate_v2");
	int dev;
	void *c;
	alloc_ = real("cuMemAlloc_v2");
	free_ = real("cuMemFree_v2");
	if (init(0) || get(&dev, 0) || ctx(&c, 0, dev))
		exit(3);
}

static void say(const char *s)
{
	printf("%s\n", s);
	fflush(stdout);
}

/* The guard's threads' run counts summed (field 3 of each schedstat). */
static unsigned long long runs(const char *pid)
{
	char path[256], buf[256];
	unsigned long long sum = 0;
	snprintf(path, sizeof path, "/proc/%s/task", pid);
	DIR *d = opendir(path);
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%s/task/%s/schedstat", pid, e->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		unsigned long long a, b, c;
		if (sscanf(buf, "%llu %llu %llu", &a, &b, &c) == 3)
			sum += c;
	}
	closedir(d);
	return sum;
}

static int pulse(unsigned long long size, double hold, double gap, double secs)
{
	unsigned long long p;
	double end = now_ms() + secs * 1000;
	int first = 1;
	while (now_ms() < end) {
		if (alloc_(&p, size))
			return 4;
		if (first)
			say("ready");
		first = 0;
		nap_ms(hold);
		free_(p);
		nap_ms(gap);
	}
	return 0;
}

static int lock(const char *guard, unsigned long long size, double hold, double secs)
{
	unsigned long long p, seen = runs(guard);
	double end = now_ms() + secs * 1000;
	int first = 1;
	while (now_ms() < end) {
		unsigned long long r = runs(guard);
		if (r == seen) {
			nap_ms(0.2);
			continue;
		}
		/* The guard just ran: pulse now, gone before it runs again. */
		if (alloc_(&p, size))
			return 4;
		if (first)
			say("ready");
		first = 0;
		nap_ms(hold);
		free_(p);
		seen = runs(guard);
	}
	return 0;
}

static int launch(long us, double secs, const char *cubin, long iters)
{
	int (*load)(void **, const void *) = real("cuModuleLoadData");
	int (*loadf)(void **, const char *) = real("cuModuleLoad");
	int (*getf)(void **, void *, const char *) = real("cuModuleGetFunction");
	int (*run)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void *, void **, void **) =
		real("cuLaunchKernel");
	int (*sync)(void) = real("cuCtxSynchronize");
	void *mod, *f;
	unsigned long long dur = (unsigned long long)us, out = 0;
	void *busy_args[] = { &dur }, *burn_args[] = { &iters, &out }, **args = busy_args;
	unsigned blocks = 1, threads = 1;
	if (cubin) {
		int (*attr)(int *, int, int) = real("cuDeviceGetAttribute");
		int sms = 0;
		if (loadf(&mod, cubin) || getf(&f, mod, "_Z4burnlPf") || attr(&sms, 16 /* MULTIPROCESSOR_COUNT */, 0) ||
		    alloc_(&out, 4096 * 4))
			return 5;
		blocks = (unsigned)sms * 4;
		threads = 256;
		args = burn_args;
	} else if (load(&mod, "busy") || getf(&f, mod, "busy")) {
		return 5;
	}
	say("ready");
	double t0 = now_ms(), end = t0 + secs * 1000, shown = t0;
	int progress = getenv("BURNER_PROGRESS") != NULL;
	long n = 0;
	for (; now_ms() < end; n++) {
		if (run(f, blocks, 1, 1, threads, 1, 1, 0, 0, args, 0))
			return 6;
		if (n % 4 == 3) {
			sync();
			if (progress && now_ms() - shown >= 100) {
				struct timespec w;
				clock_gettime(CLOCK_REALTIME, &w);
				printf("progress t=%.3f kernels=%ld\n", w.tv_sec + w.tv_nsec / 1e9, n + 1);
				fflush(stdout);
				shown = now_ms();
			}
		}
	}
	sync();
	printf("kernels=%ld secs=%.3f rate=%.3f\n", n, (now_ms() - t0) / 1e3, n / ((now_ms() - t0) / 1e3));
	return 0;
}

/* The milliseconds since the last whole second of CLOCK_REALTIME: where
 * the time authority's periods begin. */
static double period_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_nsec / 1e6;
}

/* A job that runs around the library in its own slot [0, end) of every
 * period, as its gate allows, and queues one more kernel of tail
 * milliseconds just before the slot ends: work queued at a close, which
 * runs on into the next job's time. */
static int overrun(double end, double tail, double secs)
{
	int (*load)(void **, const void *) = real("cuModuleLoadData");
	int (*getf)(void **, void *, const char *) = real("cuModuleGetFunction");
	int (*run)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void *, void **, void **) =
		real("cuLaunchKernel");
	int (*sync)(void) = real("cuCtxSynchronize");
	void *mod, *f;
	unsigned long long ms = 1000, last = (unsigned long long)(tail * 1000);
	void *one[] = { &ms }, *more[] = { &last };
	if (load(&mod, "busy") || getf(&f, mod, "busy"))
		return 5;
	say("ready");
	double stop = now_ms() + secs * 1000;
	int queued = 0;
	while (now_ms() < stop) {
		double at = period_ms();
		if (at < end - 1.5) {
			queued = 0;
			if (run(f, 1, 1, 1, 1, 1, 1, 0, 0, one, 0))
				return 6;
			sync();
		} else if (at < end && !queued) {
			queued = 1;
			if (run(f, 1, 1, 1, 1, 1, 1, 0, 0, more, 0))
				return 6;
			sync();
		} else {
			nap_ms(0.5);
		}
	}
	return 0;
}

/* Memory left to a child that keeps the driver's files, hidden behind
 * 5000 others: a reader of /proc/<pid>/fd that stops at a few thousand
 * entries never sees it hold the GPU. */
static int hide(unsigned long long size)
{
	unsigned long long p;
	if (alloc_(&p, size))
		return 4;
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		struct rlimit r = { 8192, 8192 };
		if (setrlimit(RLIMIT_NOFILE, &r))
			_exit(9);
		for (int fd = 3; fd < 1024; fd++)
			if (fcntl(fd, F_GETFD) >= 0 && dup2(fd, 5000 + fd) >= 0)
				close(fd);
		for (int fd = 0; fd < 5000; fd++) {
			int n = open("/dev/null", O_RDWR);
			if (n >= 0 && n != fd) {
				dup2(n, fd);
				close(n);
			}
		}
		sleep(60);
		_exit(0);
	}
	if (child < 0)
		return 10;
	printf("child=%d\n", (int)child);
	return 0;
}

/* N mappings that the kernel cannot merge: every other page read-only. */
static int maps(long n, const char *kind)
{
	int fd = -1;
	if (strcmp(kind, "anon") != 0) {
		long len = atol(kind);
		char path[4096] = "/tmp/", *p = path + 5;
		while (p - path < len - 16 && p - path < (long)sizeof path - 32) {
			memcpy(p, "softmig-flood-xxxxxxxxxxxxxxxxxx/", 33);
			p += 33;
			*p = 0;
			mkdir(path, 0700);
		}
		strcpy(p, "file");
		fd = open(path, O_RDWR | O_CREAT, 0600);
		if (fd < 0 || ftruncate(fd, 2 * 4096))
			return 7;
	}
	for (long i = 0; i < n; i++) {
		int prot = i % 2 ? PROT_READ : PROT_READ | PROT_WRITE;
		void *m = fd < 0 ? mmap(0, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
				 : mmap(0, 4096, prot, MAP_PRIVATE, fd, (i % 2) * 4096);
		if (m == MAP_FAILED) {
			fprintf(stderr, "dl_attack: mapping %ld of %ld failed\n", i, n);
			return 8;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int rc = 1;

	if (!strcmp(cmd, "maps") && argc == 4) {
		if ((rc = maps(atol(argv[2]), argv[3])))
			return rc;
		start();
		say("ready");
		getchar();
		return 0;
	}
	start();
	if (!strcmp(cmd, "pulse") && argc == 6)
		rc = pulse(strtoull(argv[2], 0, 0), atof(argv[3]), atof(argv[4]), atof(argv[5]));
	else if (!strcmp(cmd, "lock") && argc == 6)
		rc = lock(argv[2], strtoull(argv[3], 0, 0), atof(argv[4]), atof(argv[5]));
	else if (!strcmp(cmd, "launch") && (argc == 4 || argc == 6))
		rc = launch(atol(argv[2]), atof(argv[3]), argc == 6 ? argv[4] : NULL, argc == 6 ? atol(argv[5]) : 0);
	else if (!strcmp(cmd, "overrun") && argc == 5)
		rc = overrun(atof(argv[2]), atof(argv[3]), atof(argv[4]));
	else if (!strcmp(cmd, "hide") && argc == 3)
		rc = hide(strtoull(argv[2], 0, 0));
	else if (!strcmp(cmd, "hold") && argc == 3) {
		unsigned long long p;
		if (alloc_(&p, strtoull(argv[2], 0, 0)))
			return 4;
		say("ready");
		getchar();
		return 0;
	} else {
		fprintf(stderr, "usage: see the comment at the top of test/cprog/dl_attack.c\n");
		return 2;
	}
	if (rc == 0)
		say("survived");
	return rc;
}
