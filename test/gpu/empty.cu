/* SPDX-License-Identifier: Apache-2.0 */
// The kernel bench_launch launches: no work, so the launch path is all
// that is measured.
extern "C" __global__ void empty(void) {}
