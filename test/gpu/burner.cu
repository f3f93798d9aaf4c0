// burner US SECS [SYNC]: keeps the GPU busy with kernels of about US
// microseconds each (every SM spinning on clock64), launched through the
// CUDA runtime (cudaLaunchKernel -> cuGetProcAddress -> cuLaunchKernel),
// synchronising every SYNC launches (default 8, like a training step).
// Prints "ready" once initialised, then after SECS seconds
// "kernels=<n> secs=<s> rate=<kernels per second>".
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <cuda_runtime.h>

__global__ void spin(long long cycles)
{
	long long t0 = clock64();
	while (clock64() - t0 < cycles)
		;
}

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
	fprintf(stderr, "burner: %s: %s\n", #x, cudaGetErrorString(e_)); return 1; } } while (0)

int main(int argc, char **argv)
{
	double us = argc > 1 ? atof(argv[1]) : 1000, secs = argc > 2 ? atof(argv[2]) : 10;
	long sync = argc > 3 ? atol(argv[3]) : 8, n = 0;
	int khz = 0, sms = 0;
	CK(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0));
	CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
	long long cycles = (long long)(us * khz / 1000.0);
	spin<<<sms * 2, 128>>>(cycles);
	CK(cudaDeviceSynchronize());
	printf("ready\n");
	fflush(stdout);
	auto t0 = std::chrono::steady_clock::now();
	double el = 0;
	while (el < secs) {
		spin<<<sms * 2, 128>>>(cycles);
		CK(cudaGetLastError());
		if (++n % sync == 0) {
			CK(cudaDeviceSynchronize());
			el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
		}
	}
	CK(cudaDeviceSynchronize());
	el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	printf("kernels=%ld secs=%.3f rate=%.3f\n", n, el, n / el);
	return 0;
}
