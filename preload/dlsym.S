/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dlsym interposition.  glibc resolves RTLD_NEXT and RTLD_DEFAULT relative
 * to the object that called dlsym (its return address), so for those two
 * handles this entry jumps to the real dlsym without a frame of its own:
 * glibc then sees the original caller, and other interposers (jemalloc,
 * darshan, libfaketime) that ask for RTLD_NEXT keep working.  Every other
 * handle goes to sm_hook_lookup_dlsym (hook_lookup.c), which may
 * substitute a hook.
 */
#if defined(__x86_64__)
	.text
	.globl	dlsym
	.type	dlsym, @function
dlsym:
	.cfi_startproc
	cmpq	$-1, %rdi		/* RTLD_NEXT */
	je	1f
	testq	%rdi, %rdi		/* RTLD_DEFAULT */
	je	1f
	jmp	sm_hook_lookup_dlsym
1:	movq	sm_real_dlsym_fn(%rip), %rax
	testq	%rax, %rax
	je	2f
	jmp	*%rax
2:	pushq	%rdi
	.cfi_adjust_cfa_offset 8
	pushq	%rsi
	.cfi_adjust_cfa_offset 8
	subq	$8, %rsp		/* 16-byte alignment for the call */
	.cfi_adjust_cfa_offset 8
	call	sm_real_dlsym_resolve
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%rsi
	.cfi_adjust_cfa_offset -8
	popq	%rdi
	.cfi_adjust_cfa_offset -8
	testq	%rax, %rax
	je	3f
	jmp	*%rax
3:	ret
	.cfi_endproc
	.size	dlsym, .-dlsym
#elif defined(__aarch64__)
	.text
	.globl	dlsym
	.type	dlsym, %function
dlsym:
	.cfi_startproc
	cmn	x0, #1			/* RTLD_NEXT */
	b.eq	1f
	cbz	x0, 1f			/* RTLD_DEFAULT */
	b	sm_hook_lookup_dlsym
1:	adrp	x16, sm_real_dlsym_fn
	ldr	x16, [x16, :lo12:sm_real_dlsym_fn]
	cbz	x16, 2f
	br	x16
2:	stp	x29, x30, [sp, #-32]!
	.cfi_def_cfa_offset 32
	.cfi_offset 29, -32
	.cfi_offset 30, -24
	mov	x29, sp
	stp	x0, x1, [sp, #16]
	bl	sm_real_dlsym_resolve
	mov	x16, x0
	ldp	x0, x1, [sp, #16]
	ldp	x29, x30, [sp], #32
	.cfi_def_cfa_offset 0
	cbz	x16, 3f
	br	x16
3:	mov	x0, #0
	ret
	.cfi_endproc
	.size	dlsym, .-dlsym
#else
#error "dlsym.S: add a tail-calling dlsym for this architecture"
#endif
	.section .note.GNU-stack,"",%progbits
