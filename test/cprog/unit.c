/*
 * unit: drives the library's parsers directly (linked from preload/), so
 * the Go tests can hold them to the shared vectors.
 *   unit sizes FILE    each vector line -> "<input>\t<bytes>|error"
 *   unit conf FILE     "ok mem0=<b> mem1=<b> sm0=<p> sm1=<p> oom=<0|1> log=<n> region=<path>" or "error: <why>"
 *   unit cgroup FILE   "job=<id>" or "job="
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "softmig.h"

static char buf[1 << 17];

int main(int argc, char **argv)
{
	ssize_t n;

	if (argc != 3)
		return 2;
	n = sm_read_file(argv[2], buf, sizeof(buf));
	if (n < 0) {
		perror(argv[2]);
		return 2;
	}
	if (!strcmp(argv[1], "sizes")) {
		char *save = NULL, *line;
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *tab = strchr(line, '\t');
			uint64_t v;
			if (line[0] == '#' || !tab)
				continue;
			*tab = 0;
			if (sm_parse_size(strcmp(line, "<empty>") ? line : "", &v) == 0)
				printf("%s\t%llu\n", line, (unsigned long long)v);
			else
				printf("%s\terror\n", line);
		}
		return 0;
	}
	if (!strcmp(argv[1], "conf")) {
		struct sm_config c;
		char err[400];
		memset(&c, 0, sizeof(c));
		if (sm_config_parse(&c, buf, (size_t)n, err, sizeof(err)) != 0) {
			printf("error: %s\n", err);
			return 0;
		}
		printf("ok mem0=%llu mem1=%llu sm0=%d sm1=%d oom=%d log=%d region=%s\n",
		       (unsigned long long)c.mem_limit[0], (unsigned long long)c.mem_limit[1], c.sm_limit[0],
		       c.sm_limit[1], c.oom_killer, c.log_level, c.region_path);
		return 0;
	}
	if (!strcmp(argv[1], "cgroup")) {
		char job[SM_JOB_MAX] = "";
		sm_job_parse_cgroup(buf, job, sizeof(job));
		printf("job=%s\n", job);
		return 0;
	}
	return 2;
}
