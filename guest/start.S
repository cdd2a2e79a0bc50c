/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Entry, in 64-bit mode with the host's GDT and identity page tables;
 * RSI points to the command line, RSP to a stack.
 */
	.section .text.start, "ax"
	.globl _start
_start:
	cli
	mov	%rsi, %rdi
	call	guest_main
	/* guest_main reports through debug-exit; never come back. */
1:	hlt
	jmp	1b

/* Timer interrupt (PIC IRQ 0): count, end of interrupt, return. */
	.text
	.globl isr_timer
isr_timer:
	push	%rax
	incq	guest_ticks(%rip)
	mov	$0x20, %al
	outb	%al, $0x20
	pop	%rax
	iretq

/* Any other vector: count it as unexpected and return. */
	.globl isr_other
isr_other:
	incq	guest_unexpected(%rip)
	iretq

	.section .note.GNU-stack, "", @progbits
