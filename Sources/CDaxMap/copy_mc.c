// Fault-recoverable copy, fill and flush for x86-64, in the manner of the
// kernel's copy_mc and exception tables: leaf routines that never touch the
// stack, so when one faults on a registered mapping the signal handler moves
// the instruction pointer to cdaxmap_mc_fixup, which returns -EFAULT to the
// caller. No per-call setup at all, where sigsetjmp costs ~3 ns a call (more
// than 5 % of a 4 KiB copy in L2; see README, Benchmarks).
//
// Ordinary stores only: the non-temporal copies stay in C (copy.c) under a
// sigsetjmp guard, whose cost is small next to the sizes they serve.

#include "copy_mc.h"

#if defined(__x86_64__)

// Below this many bytes: 16-byte moves; from here: rep movsb / stosb (ERMS).
// Measured here against glibc's memcpy: rep movsb costs ~12 ns to start, so
// it loses below 1 KiB; the 16-byte loop matches memcpy in L1 but falls 5-8 %
// behind it in L2 from 1 KiB up, where rep movsb matches it.
#define CDAXMAP_MC_REP_MIN 1024
#define STR_(x) #x
#define STR(x) STR_(x)

__asm__(
    ".text\n"
    ".p2align 5\n"
    ".globl cdaxmap_mc_text_begin\n"
    ".hidden cdaxmap_mc_text_begin\n"
    "cdaxmap_mc_text_begin:\n"

    // int cdaxmap_mc_copy(void *dst /* rdi */, const void *src /* rsi */, size_t n /* rdx */)
    ".globl cdaxmap_mc_copy\n"
    ".hidden cdaxmap_mc_copy\n"
    ".type cdaxmap_mc_copy, @function\n"
    "cdaxmap_mc_copy:\n"
    "  cmp $32, %rdx\n"
    "  jbe 20f\n"
    "  cmp $" STR(CDAXMAP_MC_REP_MIN) ", %rdx\n"
    "  jae 10f\n"
    // 33 ..< REP_MIN: 32-byte blocks, then the last 32 bytes (overlapping).
    // In address order, so a fault reports the first failing byte.
    "  lea -32(%rsi,%rdx), %r8\n"
    "  lea -32(%rdi,%rdx), %rcx\n"
    "  shr $5, %rdx\n"
    "1:\n"
    "  movups (%rsi), %xmm0\n"
    "  movups 16(%rsi), %xmm1\n"
    "  movups %xmm0, (%rdi)\n"
    "  movups %xmm1, 16(%rdi)\n"
    "  add $32, %rsi\n"
    "  add $32, %rdi\n"
    "  dec %rdx\n"
    "  jnz 1b\n"
    "  movups (%r8), %xmm0\n"
    "  movups 16(%r8), %xmm1\n"
    "  movups %xmm0, (%rcx)\n"
    "  movups %xmm1, 16(%rcx)\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    "10:\n"
    "  mov %rdx, %rcx\n"
    "  rep movsb\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    // 0 ... 32: two overlapping moves of the widest size that fits.
    "20:\n"
    "  cmp $16, %rdx\n"
    "  jb 21f\n"
    "  movups (%rsi), %xmm0\n"
    "  movups -16(%rsi,%rdx), %xmm1\n"
    "  movups %xmm0, (%rdi)\n"
    "  movups %xmm1, -16(%rdi,%rdx)\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    "21:\n"
    "  cmp $8, %rdx\n"
    "  jb 22f\n"
    "  mov (%rsi), %rax\n"
    "  mov -8(%rsi,%rdx), %rcx\n"
    "  mov %rax, (%rdi)\n"
    "  mov %rcx, -8(%rdi,%rdx)\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    "22:\n"
    "  cmp $4, %rdx\n"
    "  jb 23f\n"
    "  mov (%rsi), %eax\n"
    "  mov -4(%rsi,%rdx), %ecx\n"
    "  mov %eax, (%rdi)\n"
    "  mov %ecx, -4(%rdi,%rdx)\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    // 1 ... 3: bytes 0, n/2 and n-1.
    "23:\n"
    "  test %rdx, %rdx\n"
    "  jz 24f\n"
    "  mov %rdx, %r8\n"
    "  shr $1, %r8\n"
    "  movzbl (%rsi), %eax\n"
    "  movzbl (%rsi,%r8), %ecx\n"
    "  movzbl -1(%rsi,%rdx), %r9d\n"
    "  mov %al, (%rdi)\n"
    "  mov %cl, (%rdi,%r8)\n"
    "  mov %r9b, -1(%rdi,%rdx)\n"
    "24:\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    ".size cdaxmap_mc_copy, .-cdaxmap_mc_copy\n"

    // int cdaxmap_mc_fill(void *dst /* rdi */, int value /* esi */, size_t n /* rdx */)
    ".p2align 4\n"
    ".globl cdaxmap_mc_fill\n"
    ".hidden cdaxmap_mc_fill\n"
    ".type cdaxmap_mc_fill, @function\n"
    "cdaxmap_mc_fill:\n"
    "  movzbl %sil, %eax\n"
    "  movabs $0x0101010101010101, %rcx\n"
    "  imul %rcx, %rax\n"
    "  cmp $32, %rdx\n"
    "  jbe 20f\n"
    "  cmp $" STR(CDAXMAP_MC_REP_MIN) ", %rdx\n"
    "  jae 10f\n"
    "  movq %rax, %xmm0\n"
    "  punpcklqdq %xmm0, %xmm0\n"
    "  lea -32(%rdi,%rdx), %rcx\n"
    "  shr $5, %rdx\n"
    "1:\n"
    "  movups %xmm0, (%rdi)\n"
    "  movups %xmm0, 16(%rdi)\n"
    "  add $32, %rdi\n"
    "  dec %rdx\n"
    "  jnz 1b\n"
    "  movups %xmm0, (%rcx)\n"
    "  movups %xmm0, 16(%rcx)\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    "10:\n"
    "  mov %rdx, %rcx\n"
    "  rep stosb\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    "20:\n"
    "  cmp $16, %rdx\n"
    "  jb 21f\n"
    "  movq %rax, %xmm0\n"
    "  punpcklqdq %xmm0, %xmm0\n"
    "  movups %xmm0, (%rdi)\n"
    "  movups %xmm0, -16(%rdi,%rdx)\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    "21:\n"
    "  cmp $8, %rdx\n"
    "  jb 22f\n"
    "  mov %rax, (%rdi)\n"
    "  mov %rax, -8(%rdi,%rdx)\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    "22:\n"
    "  cmp $4, %rdx\n"
    "  jb 23f\n"
    "  mov %eax, (%rdi)\n"
    "  mov %eax, -4(%rdi,%rdx)\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    "23:\n"
    "  test %rdx, %rdx\n"
    "  jz 24f\n"
    "  mov %rdx, %rcx\n"
    "  shr $1, %rcx\n"
    "  mov %al, (%rdi)\n"
    "  mov %al, (%rdi,%rcx)\n"
    "  mov %al, -1(%rdi,%rdx)\n"
    "24:\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    ".size cdaxmap_mc_fill, .-cdaxmap_mc_fill\n"

    // int cdaxmap_mc_flush(int kind /* edi */, const void *addr /* rsi */, size_t n /* rdx */)
    // Writes back every cache line of [addr, addr+n), then sfence.
    ".p2align 4\n"
    ".globl cdaxmap_mc_flush\n"
    ".hidden cdaxmap_mc_flush\n"
    ".type cdaxmap_mc_flush, @function\n"
    "cdaxmap_mc_flush:\n"
    "  test %rdx, %rdx\n"
    "  jz 9f\n"
    "  lea (%rsi,%rdx), %rdx\n"         // end
    "  and $-64, %rsi\n"                // first line (CDAXMAP_CACHELINE)
    "  cmp $" "3" ", %edi\n"
    "  je 1f\n"
    "  cmp $" "2" ", %edi\n"
    "  je 2f\n"
    "  cmp $" "1" ", %edi\n"
    "  je 3f\n"
    "  jmp 9f\n"
    "1:\n"
    "  clwb (%rsi)\n"
    "  add $64, %rsi\n"
    "  cmp %rdx, %rsi\n"
    "  jb 1b\n"
    "  jmp 9f\n"
    "2:\n"
    "  clflushopt (%rsi)\n"
    "  add $64, %rsi\n"
    "  cmp %rdx, %rsi\n"
    "  jb 2b\n"
    "  jmp 9f\n"
    "3:\n"
    "  clflush (%rsi)\n"
    "  add $64, %rsi\n"
    "  cmp %rdx, %rsi\n"
    "  jb 3b\n"
    "9:\n"
    "  sfence\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    ".size cdaxmap_mc_flush, .-cdaxmap_mc_flush\n"

    // Where the handler resumes a faulting instruction of the routines above.
    ".p2align 4\n"
    ".globl cdaxmap_mc_fixup\n"
    ".hidden cdaxmap_mc_fixup\n"
    "cdaxmap_mc_fixup:\n"
    "  mov $-14, %eax\n"                // -EFAULT
    "  ret\n"
    ".globl cdaxmap_mc_text_end\n"
    ".hidden cdaxmap_mc_text_end\n"
    "cdaxmap_mc_text_end:\n");

// The asm above compares with these values.
_Static_assert(CDAXMAP_FLUSH_CLWB == 3 && CDAXMAP_FLUSH_CLFLUSHOPT == 2 && CDAXMAP_FLUSH_CLFLUSH == 1,
               "flush kinds changed: update cdaxmap_mc_flush");
_Static_assert(CDAXMAP_CACHELINE == 64, "cdaxmap_mc_flush steps by 64 bytes");

#endif
