/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PVH entry of the built-in guest, for loaders other than modvmm (QEMU's
 * -kernel on microvm): it makes the state modvmm gives the guest (core/
 * boot.c) out of what the PVH ABI gives, then enters start.S's _start.
 *
 * PVH: 32-bit protected mode, paging off, interrupts off, EBX = physical
 * address of struct hvm_start_info. What it builds: a GDT with the 64-bit
 * code segment at 0x10 and data at 0x18 (the IDT guest.c writes uses
 * 0x10), identity page tables for 0..4 GiB in 2 MiB pages (the guest uses
 * RAM from 2 MiB up and virtio-mmio at 0xd0000000), a stack, the local
 * APIC in virtual wire mode, and RSI pointing to a copy of the command
 * line. All of it lives in the image or its .bss, which guest-pvh.ld
 * keeps below 2 MiB.
 */
#define START_INFO_MAGIC 0x336ec578
#define START_INFO_CMDLINE 24 /* u64 cmdline_paddr */
#define CMDLINE_MAX 4096
#define STACK_SIZE 16384
#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define PTE_P_RW_PS 0x83
#define CR0_PE_PG 0x80000001
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define MSR_APIC_BASE 0x1b
#define APIC_SVR 0xf0
#define APIC_SVR_ENABLE 0x100
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_LVT_EXTINT 0x700
#define APIC_LVT_NMI 0x400

	.section .text.pvh, "ax"
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld

	/*
	 * Zeroed here rather than trusted: a loader that zero-fills the
	 * ELF's memory size does no harm, one that does not (or a reset
	 * that reloads only the file's bytes) would leave guest.c's counters
	 * and the command line buffer holding old values.
	 */
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	xor	%eax, %eax
	rep stosb

	/*
	 * The command line is copied into .bss: where the loader put it
	 * (qboot's F segment, or anywhere in RAM for another loader) may be
	 * RAM the guest writes (rings at 2 MiB, pages from 4 MiB), and
	 * guest.c reads its words again after writing there. One above
	 * 4 GiB, or a start_info without the magic, counts as empty; a
	 * longer one is cut to CMDLINE_MAX - 1 bytes.
	 */
	cmpl	$START_INFO_MAGIC, (%ebx)
	jne	2f
	cmpl	$0, START_INFO_CMDLINE + 4(%ebx)
	jne	2f
	mov	START_INFO_CMDLINE(%ebx), %esi
	test	%esi, %esi
	jz	2f
	mov	$pvh_cmdline, %edi
	mov	$CMDLINE_MAX - 1, %ecx
1:	lodsb
	test	%al, %al
	jz	2f
	stosb
	loop	1b
2:
	lgdt	pvh_gdt_desc
	mov	$BOOT_DS, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss

	/* Long mode: PAE, the tables, EFER.LME, then paging. */
	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$pvh_pml4, %eax
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr
	mov	%cr0, %eax
	or	$CR0_PE_PG, %eax
	mov	%eax, %cr0
	ljmp	$BOOT_CS, $pvh_start64

	.code64
pvh_start64:
	mov	$BOOT_DS, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%eax, %fs
	mov	%eax, %gs
	/* 32-bit moves zero the upper halves, which compatibility mode
	 * left undefined. */
	mov	$pvh_stack_top, %esp

	/*
	 * Virtual wire: PIC interrupts reach the CPU through LINT0 as
	 * ExtINT, as firmware leaves the local APIC and modvmm sets it
	 * (core/kvm-cpu.c). QEMU 7.2's microvm leaves LINT0 masked, and its
	 * PIC's interrupts then never arrive. LINT0 only unmasks with the
	 * APIC software-enabled (SVR bit 8).
	 */
	mov	$MSR_APIC_BASE, %ecx
	rdmsr
	and	$0xfffff000, %eax
	orl	$APIC_SVR_ENABLE, APIC_SVR(%rax)
	movl	$APIC_LVT_EXTINT, APIC_LVT0(%rax)
	movl	$APIC_LVT_NMI, APIC_LVT1(%rax)

	mov	$pvh_cmdline, %esi
	jmp	_start

	.section .rodata.pvh, "a"
	.balign 8
pvh_gdt:
	.quad	0
	.quad	0
	.quad	0x00af9b000000ffff	/* BOOT_CS: 64-bit code */
	.quad	0x00cf93000000ffff	/* BOOT_DS: flat data */
pvh_gdt_end:
	/* Loaded in 32-bit mode: a 32-bit base. */
pvh_gdt_desc:
	.word	pvh_gdt_end - pvh_gdt - 1
	.long	pvh_gdt

/*
 * Identity map of 0..4 GiB, as core/boot.c writes it: one PML4 entry, four
 * PDPT entries, four page directories of 2 MiB pages. Initialised data,
 * so the entry has nothing to fill in.
 */
	.section .data.pvh, "aw"
	.balign 4096
pvh_pml4:
	.quad	pvh_pdpt + 3
	.fill	511, 8, 0
pvh_pdpt:
	.quad	pvh_pd + 0x0000 + 3
	.quad	pvh_pd + 0x1000 + 3
	.quad	pvh_pd + 0x2000 + 3
	.quad	pvh_pd + 0x3000 + 3
	.fill	508, 8, 0
pvh_pd:
	.set	pvh_i, 0
	.rept	2048
	.quad	(pvh_i << 21) | PTE_P_RW_PS
	.set	pvh_i, pvh_i + 1
	.endr

	.section .bss.pvh, "aw", @nobits
	.balign 16
pvh_stack:
	.skip	STACK_SIZE
pvh_stack_top:
pvh_cmdline:
	.skip	CMDLINE_MAX

/*
 * XEN_ELFNOTE_PHYS32_ENTRY (18): where a PVH loader enters. In an ELF64
 * the descriptor is 8 bytes: QEMU reads a 64-bit value for a 64-bit ELF.
 * 4-byte alignment: QEMU finds the descriptor by aligning the name to the
 * PT_NOTE's p_align.
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long	2f - 1f		/* namesz */
	.long	4f - 3f		/* descsz */
	.long	18		/* type */
1:	.asciz	"Xen"
2:	.balign 4
3:	.quad	pvh_start
4:	.balign 4

	.section .note.GNU-stack, "", @progbits
