/* SPDX-License-Identifier: Apache-2.0 */
// burner US SECS [SYNC [ITERS]]: keeps the GPU busy with kernels of a fixed amount
// of arithmetic (every SM running dependent FMAs), calibrated at start to
// take about US microseconds each, launched through the CUDA runtime
// (cudaLaunchKernel -> cuGetProcAddress -> cuLaunchKernel), synchronising
// every SYNC launches (default 8, like a training step).
// A kernel's work is fixed, not its duration: a spin on clock64() would
// count the time the kernel spent switched out by another job's time slice,
// and overstate the work of the job that is preempted more.
// With ITERS, kernels run that many iterations (no calibration), so that
// concurrent jobs do identical work per kernel.  Prints "iters=<n>" and
// "ready" once calibrated, then after SECS seconds
// "kernels=<n> secs=<s> rate=<kernels per second>".  With BURNER_PROGRESS
// set, it also prints "progress t=<unix time> kernels=<n>" about every 100 ms,
// so that a benchmark can judge any window of its run.
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <cuda_runtime.h>

__global__ void burn(long iters, float *out)
{
	float x = threadIdx.x * 1e-3f, a = 1.000001f, b = 1e-7f;
	for (long i = 0; i < iters; i++)
		x = x * a + b;
	if (x == 12345.0f)  // never true; keeps the loop
		out[blockIdx.x] = x;
}

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
	fprintf(stderr, "burner: %s: %s\n", #x, cudaGetErrorString(e_)); return 1; } } while (0)

int main(int argc, char **argv)
{
	double us = argc > 1 ? atof(argv[1]) : 1000, secs = argc > 2 ? atof(argv[2]) : 10;
	long sync = argc > 3 ? atol(argv[3]) : 8, n = 0, iters = argc > 4 ? atol(argv[4]) : 1 << 16;
	int calibrate = argc <= 4;
	int sms = 0;
	float *out, ms = 0;
	cudaEvent_t e0, e1;
	CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
	CK(cudaMalloc(&out, sizeof(float) * sms * 4));
	CK(cudaEventCreate(&e0));
	CK(cudaEventCreate(&e1));
	for (int round = 0; calibrate && round < 4; round++) {  // calibrate iterations to ~US
		CK(cudaEventRecord(e0));
		burn<<<sms * 4, 256>>>(iters, out);
		CK(cudaEventRecord(e1));
		CK(cudaEventSynchronize(e1));
		CK(cudaEventElapsedTime(&ms, e0, e1));
		if (ms > 0)
			iters = (long)(iters * (us / 1000.0) / ms);
		if (iters < 1)
			iters = 1;
	}
	printf("iters=%ld\nready\n", iters);
	fflush(stdout);
	auto t0 = std::chrono::steady_clock::now();
	double el = 0, shown = 0;
	int progress = getenv("BURNER_PROGRESS") != NULL;
	while (el < secs) {
		burn<<<sms * 4, 256>>>(iters, out);
		CK(cudaGetLastError());
		if (++n % sync == 0) {
			CK(cudaDeviceSynchronize());
			el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
			if (progress && el - shown >= 0.1) {
				double t = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
				printf("progress t=%.3f kernels=%ld\n", t, n);
				fflush(stdout);
				shown = el;
			}
		}
	}
	CK(cudaDeviceSynchronize());
	el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	printf("kernels=%ld secs=%.3f rate=%.3f\n", n, el, n / el);
	return 0;
}
