/* SPDX-License-Identifier: Apache-2.0 */
/* The CUDA ordinals a program uses and their device entries (dev.c). */
#ifndef SOFTMIG_DEV_H
#define SOFTMIG_DEV_H

#include "cuda_abi.h"
#include "softmig.h"

hidden int sm_dev_current(CUdevice *dev);      /* device of the current context */
hidden int sm_dev_entry(CUdevice dev);         /* device entry in the region, -1 */
/* Registers this process in the region; the device entry of dev, -1. */
hidden int sm_dev_enter(CUdevice dev);
/* Logs "device attach" the first time dev is used; noted: its entry, -1. */
hidden void sm_dev_note(CUdevice dev);
hidden int sm_dev_noted(CUdevice dev);

#endif
