/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proc:SYMBOL:VERSION:FLAGS[:EXPORTED]: asks the driver's cuGetProcAddress_v2
 * directly.  Prints status=<query result> sym=SYMBOL name=<the exported
 * symbol at the returned address, by dladdr, or -> and, with EXPORTED,
 * match=<1 if the pointer is dlsym(libcuda, EXPORTED)>.
 */
#include <dlfcn.h>
#include <stdlib.h>

#include "client.h"

static int proc(struct client *c, char **args)
{
	const struct client_driver *drv = c->drv;
	/* cuclient links the driver: its own symbols, not the hooks. */
	void *lib = drv->lib ? drv->lib : dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
	CUdriverProcAddressQueryResult st = (CUdriverProcAddressQueryResult)-1;
	void *fn = NULL;
	Dl_info info;
	CUresult r;

	if (!args[0] || !drv->getproc)
		return CUDA_ERROR_INVALID_VALUE;
	r = drv->getproc(args[0], &fn, (int)arg_int(args, 1, 0),
			 args[2] ? strtoull(args[2], NULL, 0) : 0, &st);
	kv(c, "status=%d sym=%s name=%s", (int)st, args[0],
	   fn && dladdr(fn, &info) && info.dli_sname ? info.dli_sname : "-");
	if (args[3])
		kv(c, "match=%d", fn && lib && fn == dlsym(lib, args[3]));
	return r;
}

const struct command proc_commands[] = {
	{"proc", 4, proc, 0},
	{0},
};
