/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bind the glibc symbols the library uses to their oldest versions, so the
 * library built on a new distribution still loads on glibc 2.17 (old-distro
 * containers).  glibc 2.34 moved libdl and libpthread into libc and gave
 * these functions new GLIBC_2.34 versions; the old versions remain as
 * compatibility symbols in every later glibc.  The tests check that no
 * version newer than GLIBC_2.17 is needed.
 */
#ifndef SOFTMIG_GLIBC_COMPAT_H
#define SOFTMIG_GLIBC_COMPAT_H

#if defined(__x86_64__)
#define SM_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define SM_GLIBC_BASE "GLIBC_2.17"
#endif

#ifdef SM_GLIBC_BASE
__asm__(".symver dlopen,dlopen@" SM_GLIBC_BASE);
__asm__(".symver dlvsym,dlvsym@" SM_GLIBC_BASE);
__asm__(".symver dlerror,dlerror@" SM_GLIBC_BASE);
__asm__(".symver dladdr,dladdr@" SM_GLIBC_BASE);
__asm__(".symver pthread_mutexattr_setpshared,pthread_mutexattr_setpshared@" SM_GLIBC_BASE);
__asm__(".symver pthread_once,pthread_once@" SM_GLIBC_BASE);
__asm__(".symver pthread_key_create,pthread_key_create@" SM_GLIBC_BASE);
__asm__(".symver pthread_setspecific,pthread_setspecific@" SM_GLIBC_BASE);
__asm__(".symver pthread_mutex_timedlock,pthread_mutex_timedlock@" SM_GLIBC_BASE);
__asm__(".symver pthread_mutexattr_init,pthread_mutexattr_init@" SM_GLIBC_BASE);
__asm__(".symver pthread_mutexattr_destroy,pthread_mutexattr_destroy@" SM_GLIBC_BASE);
#if defined(__x86_64__)
__asm__(".symver pthread_mutexattr_setrobust,pthread_mutexattr_setrobust@GLIBC_2.12");
__asm__(".symver pthread_mutex_consistent,pthread_mutex_consistent@GLIBC_2.12");
#else
__asm__(".symver pthread_mutexattr_setrobust,pthread_mutexattr_setrobust@" SM_GLIBC_BASE);
__asm__(".symver pthread_mutex_consistent,pthread_mutex_consistent@" SM_GLIBC_BASE);
#endif
#endif

/*
 * Before glibc 2.34 these lived in libdl and libpthread.  The library does
 * not list those as NEEDED (loading two more files costs every process
 * start on the node about 100 us on the machines measured); the references
 * are weak, so the library loads even with LD_BIND_NOW, and sm_init checks
 * that they resolve before the first use (init.c: libs_ready).  Only a
 * process that uses CUDA ever calls them, and such a process has libdl and
 * libpthread loaded: libcuda.so.1 itself needs them on those systems.
 */
#pragma weak dlopen
#pragma weak dladdr
#pragma weak dlerror
#pragma weak dlvsym
#pragma weak pthread_key_create
#pragma weak pthread_setspecific
#pragma weak pthread_mutex_consistent
#pragma weak pthread_mutex_timedlock
#pragma weak pthread_mutexattr_init
#pragma weak pthread_mutexattr_destroy
#pragma weak pthread_mutexattr_setpshared
#pragma weak pthread_mutexattr_setrobust

#endif
