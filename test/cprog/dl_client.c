/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dl_client: the test client (client/client.h) reaching the driver as the
 * CUDA 12/13 runtime does: dlopen libcuda.so.1, then every function through
 * cuGetProcAddress_v2 (client/procaddr.c).
 */
#include <dlfcn.h>

#include "client/client.h"

int main(int argc, char **argv)
{
	return client_procaddr_main("dl_client", dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL), argc,
				    argv);
}
