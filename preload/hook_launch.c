/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel launch hooks.  Every launch path is hooked so that the compute
 * share (CUDA_DEVICE_SM_LIMIT) can hold each of them (throttle.h): without
 * an SM limit a launch costs one predictable branch on top of the driver's
 * call; with one, the job under its share, one load and compare more.
 */
#include "hooks.h"
#include "throttle.h"

/* The stream a _ptsz launch with stream 0 runs on. */
#define PTSZ(s) ((s) ? (s) : CU_STREAM_PER_THREAD)

#define LAUNCH(stream, realcall) \
	do { \
		SM_LAUNCH_PASS(realcall); \
		sm_gate(stream); \
		return (realcall); \
	} while (0)

SOFTMIG_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
				       unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem,
				       CUstream s, void **params, void **extra)
{
	SM_NEED_REAL(cuLaunchKernel);
	LAUNCH(s, real_cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shmem, s, params, extra));
}

SOFTMIG_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
					    unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem,
					    CUstream s, void **params, void **extra)
{
	SM_NEED_REAL(cuLaunchKernel_ptsz);
	LAUNCH(PTSZ(s), real_cuLaunchKernel_ptsz(f, gx, gy, gz, bx, by, bz, shmem, s, params, extra));
}

SOFTMIG_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **params, void **extra)
{
	SM_NEED_REAL(cuLaunchKernelEx);
	LAUNCH(config ? config->hStream : NULL, real_cuLaunchKernelEx(config, f, params, extra));
}

SOFTMIG_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f, void **params,
					      void **extra)
{
	SM_NEED_REAL(cuLaunchKernelEx_ptsz);
	LAUNCH(config ? PTSZ(config->hStream) : NULL, real_cuLaunchKernelEx_ptsz(config, f, params, extra));
}

SOFTMIG_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
						  unsigned int bx, unsigned int by, unsigned int bz,
						  unsigned int shmem, CUstream s, void **params)
{
	SM_NEED_REAL(cuLaunchCooperativeKernel);
	LAUNCH(s, real_cuLaunchCooperativeKernel(f, gx, gy, gz, bx, by, bz, shmem, s, params));
}

SOFTMIG_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
						       unsigned int gz, unsigned int bx, unsigned int by,
						       unsigned int bz, unsigned int shmem, CUstream s,
						       void **params)
{
	SM_NEED_REAL(cuLaunchCooperativeKernel_ptsz);
	LAUNCH(PTSZ(s), real_cuLaunchCooperativeKernel_ptsz(f, gx, gy, gz, bx, by, bz, shmem, s, params));
}

SOFTMIG_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream s)
{
	SM_NEED_REAL(cuGraphLaunch);
	LAUNCH(s, real_cuGraphLaunch(exec, s));
}

SOFTMIG_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream s)
{
	SM_NEED_REAL(cuGraphLaunch_ptsz);
	LAUNCH(PTSZ(s), real_cuGraphLaunch_ptsz(exec, s));
}
