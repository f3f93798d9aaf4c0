/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dl_dlmopen: the test client (client/client.h) with a second, private copy
 * of the driver: libcuda.so.1 dlmopen'd into a new link-map namespace
 * (LM_ID_NEWLM), where no preloaded library is, then every function through
 * its cuGetProcAddress_v2, as dl_client does.  An escape softmig-guard must
 * catch (issue 12).
 */
#include <dlfcn.h>

#include "client/client.h"

int main(int argc, char **argv)
{
	return client_procaddr_main("dl_dlmopen",
				    dlmopen(LM_ID_NEWLM, "libcuda.so.1", RTLD_NOW | RTLD_LOCAL), argc,
				    argv);
}
