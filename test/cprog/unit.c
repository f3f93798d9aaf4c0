/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unit: drives the library's parsers and encoder directly (linked from
 * preload/), so that the Go tests hold them to the shared vectors in
 * testdata/ (internal/testvec reads the same files for the Go side).
 *   unit sizes FILE        each vector line -> "<input>\t<bytes>|error"
 *   unit conf DIR NAME     DIR/NAME checked and parsed as the library does:
 *                          "ok <values>", "disabled: <reason>", "invalid: <why>",
 *                          "unsafe: <why>" or "absent" (values: see testvec.ConfValues)
 *   unit cgroup FILE       each vector "<cgroup text>\t<job>" -> "<job>|-"
 *   unit jobid FILE        each vector "<id>\t<yes|no>" -> "yes|no"
 *   unit log FILE          each vector's fields -> the line the library writes
 *   unit paths FILE        each vector's what and arguments -> the path, or "-"
 * Vector fields use the escapes \n \t \\ \xHH (testdata/README).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "job.h"
#include "log.h"
#include "parse.h"
#include "paths.h"
#include "read.h"
#include "strlcpy.h"

static char buf[1 << 17];

/* Undoes the vector escapes in place ("<empty>" is the empty string);
 * returns the new length. */
static size_t unescape(char *s)
{
	char *w = s, *r = s;

	if (!strcmp(s, "<empty>")) {
		*s = 0;
		return 0;
	}
	for (; *r; r++) {
		if (*r != '\\' || !r[1]) {
			*w++ = *r;
			continue;
		}
		switch (*++r) {
		case 'n': *w++ = '\n'; break;
		case 't': *w++ = '\t'; break;
		case 'r': *w++ = '\r'; break;
		case 'x': {
			char hex[3] = { r[1], r[2], 0 };
			*w++ = (char)strtoul(hex, NULL, 16);
			r += 2;
			break;
		}
		default: *w++ = *r; break;
		}
	}
	*w = 0;
	return (size_t)(w - s);
}

/* Splits a line at tabs into at most max fields; returns their number. */
static int fields(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;

	while (n < max) {
		f[n++] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p++ = 0;
	}
	return n;
}

/* Calls fn for each vector line (not blank, not a comment) of buf. */
static void each_line(void (*fn)(char *line))
{
	char *save = NULL, *line;

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] != '#')
			fn(line);
}

static void size_line(char *line)
{
	char *tab = strchr(line, '\t');
	uint64_t v;

	if (!tab)
		return;
	*tab = 0;
	if (sm_parse_size(strcmp(line, "<empty>") ? line : "", &v) == 0)
		printf("%s\t%llu\n", line, (unsigned long long)v);
	else
		printf("%s\terror\n", line);
}

static void cgroup_line(char *line)
{
	char *f[2], job[SM_JOB_MAX] = "";

	if (fields(line, f, 2) != 2)
		return;
	unescape(f[0]);
	if (sm_job_parse_cgroup(f[0], job, sizeof(job)) != 1)
		sm_strlcpy(job, "-", sizeof(job));
	printf("%s\n", job);
}

static void jobid_line(char *line)
{
	char *f[2];

	if (fields(line, f, 2) != 2)
		return;
	unescape(f[0]);
	printf("%s\n", sm_job_id_valid(f[0]) ? "yes" : "no");
}

/* fields: ts(sec.nsec) level job pid dev msg [key=value ...] expected */
static void log_line(char *line)
{
	static const char *const levels[] = { "error", "event", "warn", "debug", "info", "trace" };
	char *f[64], out[4096], q[2048];
	struct timespec ts;
	size_t off;
	int n, i, level = -1;

	n = fields(line, f, 64);
	if (n < 7)
		return;
	for (i = 0; i < 6; i++)
		if (!strcmp(f[1], levels[i]))
			level = i;
	ts.tv_sec = (time_t)strtoll(f[0], NULL, 10);
	ts.tv_nsec = strchr(f[0], '.') ? strtol(strchr(f[0], '.') + 1, NULL, 10) : 0;
	unescape(f[5]);
	off = sm_log_header(out, sizeof(out), &ts, level, f[2], atoi(f[3]),
			    strcmp(f[4], "-") ? atoi(f[4]) : -1, f[5]);
	for (i = 6; i < n - 1; i++) {
		char *eq = strchr(f[i], '=');
		if (!eq)
			continue;
		*eq = 0;
		unescape(eq + 1);
		off += (size_t)snprintf(out + off, sizeof(out) - off, " %s=%s", f[i],
					sm_log_quote(eq + 1, q, sizeof(q)));
	}
	printf("%.*s\n", (int)off, out);
}

/* "<unset>" is an unset variable (NULL). */
static const char *var(const char *field)
{
	return strcmp(field, "<unset>") ? field : NULL;
}

/* fields: what, its arguments, the expected path (testdata/paths.tsv) */
static void paths_line(char *line)
{
	static const char *const kinds[] = { "conf", "region", "log" };
	char *f[6], out[1024], job[SM_JOB_MAX];
	int n = fields(line, f, 6), i, r = -1;

	for (i = 1; i < n - 1; i++)
		unescape(f[i]);
	for (i = 0; i < 3; i++)
		if (n == 3 && !strcmp(f[0], kinds[i]))
			r = sm_paths_job(out, sizeof(out), (enum sm_job_file)i, f[1]);
	if (n == 3 && !strcmp(f[0], "confjob") && sm_paths_conf_job(f[1], job, sizeof(job)))
		r = sm_strlcpy(out, job, sizeof(out)) < sizeof(out) ? 0 : -1;
	if (n == 4 && !strcmp(f[0], "tmplog"))
		r = sm_paths_tmp_log(out, sizeof(out), f[1], f[2]);
	if (n == 3 && !strcmp(f[0], "pidlog"))
		r = sm_paths_pid_log(out, sizeof(out), atoi(f[1]));
	if (n == 6 && !strcmp(f[0], "localregion"))
		r = sm_paths_local_region(out, sizeof(out), var(f[1]), var(f[2]),
					  (unsigned)strtoul(f[3], NULL, 10), f[4]);
	printf("%s\n", r == 0 ? out : "-");
}

/* " name<i>[-<j>]=value" for each run of equal, set values of devices. */
static void put_runs(const char *name, const char *const val[SM_MAX_DEVICES], int *any)
{
	int i = 0, j;

	while (i < SM_MAX_DEVICES) {
		if (!val[i][0]) {
			i++;
			continue;
		}
		for (j = i; j + 1 < SM_MAX_DEVICES && !strcmp(val[j + 1], val[i]); j++)
			;
		if (i == j)
			printf("%s%s%d=%s", *any ? " " : "", name, i, val[i]);
		else
			printf("%s%s%d-%d=%s", *any ? " " : "", name, i, j, val[i]);
		*any = 1;
		i = j + 1;
	}
}

/* The applied config in testvec.ConfValues form. */
static void print_values(const struct sm_config *c)
{
	static char text[3][SM_MAX_DEVICES][128];
	const char *val[3][SM_MAX_DEVICES];
	int d, any = 0;

	for (d = 0; d < SM_MAX_DEVICES; d++) {
		size_t off = 0;
		int p, start = -1;
		text[0][d][0] = text[1][d][0] = text[2][d][0] = 0;
		if (c->mem_limit[d])
			snprintf(text[0][d], 128, "%llu", (unsigned long long)c->mem_limit[d]);
		if (c->sm_limit[d])
			snprintf(text[1][d], 128, "%d", c->sm_limit[d]);
		for (p = 0; p <= 100; p++) {
			int in = p < 100 && (c->sm_slot[d][p / 64] >> (p % 64) & 1);
			if (in && start < 0)
				start = p;
			if (!in && start >= 0) {
				off += (size_t)snprintf(text[2][d] + off, 128 - off, "%s%d-%d", off ? "," : "",
							start, p);
				start = -1;
			}
		}
		val[0][d] = text[0][d];
		val[1][d] = text[1][d];
		val[2][d] = text[2][d];
	}
	put_runs("mem", val[0], &any);
	put_runs("sm", val[1], &any);
	put_runs("slot", val[2], &any);
	if (c->oom_killer) {
		printf("%soom=1", any ? " " : "");
		any = 1;
	}
	if (c->log_level) {
		printf("%slog=%d", any ? " " : "", c->log_level);
		any = 1;
	}
	if (c->region_path[0]) {
		printf("%sregion=%s", any ? " " : "", c->region_path);
		any = 1;
	}
	printf("%s\n", any ? "" : "-");
}

static int conf(const char *dir, const char *name)
{
	static const char *const verdicts[] = { "ok", "absent", "unsafe", "invalid", "disabled" };
	struct sm_config c;
	char err[512] = "";
	int r;

	memset(&c, 0, sizeof(c));
	r = sm_config_file(&c, dir, name, err, sizeof(err));
	if (r == SM_CONF_OK) {
		printf("ok ");
		print_values(&c);
	} else if (r == SM_CONF_ABSENT) {
		printf("absent\n");
	} else {
		printf("%s: %s\n", verdicts[r], err);
	}
	return 0;
}

int main(int argc, char **argv)
{
	ssize_t n;

	if (argc == 4 && !strcmp(argv[1], "conf"))
		return conf(argv[2], argv[3]);
	if (argc != 3)
		return 2;
	n = sm_read_file(argv[2], buf, sizeof(buf));
	if (n < 0) {
		perror(argv[2]);
		return 2;
	}
	if (!strcmp(argv[1], "sizes"))
		each_line(size_line);
	else if (!strcmp(argv[1], "cgroup"))
		each_line(cgroup_line);
	else if (!strcmp(argv[1], "jobid"))
		each_line(jobid_line);
	else if (!strcmp(argv[1], "log"))
		each_line(log_line);
	else if (!strcmp(argv[1], "paths"))
		each_line(paths_line);
	else
		return 2;
	return 0;
}
