/* SPDX-License-Identifier: Apache-2.0 */
/* softmig_version: lets softmig-install check that a candidate library
 * loads and answers before it is swapped into place.
 * softmig_build_info: the facts this build trusts, read from the file
 * (ELF symbol, no loading) by `softmig-install verify`, which fails when
 * they differ from the Go tools' (internal/defs: a library built with
 * another RUNDIR than the tools would read configs the prolog never
 * writes). */
#include "version.h"

#include "region_abi.h"

/* The version (git describe, or a release tarball's VERSION file) comes from
 * the Makefile, the same string the Go tools print for --version. */
#ifndef SOFTMIG_VERSION
#define SOFTMIG_VERSION "unknown (built without make)"
#endif

#define SM_STR_(x) #x
#define SM_STR(x) SM_STR_(x)

SOFTMIG_EXPORT const char softmig_build_info[] =
	"version=" SOFTMIG_VERSION " run_dir=" SM_RUN_DIR " log_dir=" SM_LOG_DIR
	" max_devices=" SM_STR(SM_MAX_DEVICES);

SOFTMIG_EXPORT const char *softmig_version(void)
{
	return SOFTMIG_VERSION;
}
