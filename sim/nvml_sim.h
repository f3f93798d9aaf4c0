/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the simulated libnvidia-ml.so.1 shared by nvml_*.c (and by
 * any sim/nvml_extra*.c): initialisation state and device handles.
 */
#ifndef SOFTMIG_SIM_NVML_SIM_H
#define SOFTMIG_SIM_NVML_SIM_H

#include "nvml_api.h"
#include "sim.h"

#pragma GCC visibility push(hidden)

#define NVML_ERROR_DRIVER_NOT_LOADED 9

/* True between a successful nvmlInit* and the matching nvmlShutdown. */
int nvml_ready(void);
/* Checks init and the handle: NVML_SUCCESS with *index set, or the error
 * to return (UNINITIALIZED, INVALID_ARGUMENT). */
nvmlReturn_t nvml_dev(nvmlDevice_t dev, int *index);
/* Copies s into buf of len bytes, or NVML_ERROR_INSUFFICIENT_SIZE. */
nvmlReturn_t nvml_copy(char *buf, unsigned int len, const char *s);
/* GPU busy percent of device i over the last second. */
unsigned int nvml_gpu_util(int i);

#pragma GCC visibility pop

#endif
