// Chooses the variant once per process from cpuid (and, for AVX state, from what the OS saves
// on a context switch), lowered by SWIFTQUANT_ISA when asked.
#include "CSwiftQuantKernels.h"
#include "KernelTable.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t sqk_xgetbv0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static int32_t sqk_detect(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return SQK_ISA_SCALAR;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return SQK_ISA_SCALAR;
    const uint64_t xcr0 = sqk_xgetbv0();
    // The OS must save xmm and ymm state (bits 1, 2) for AVX, and opmask and zmm (5–7) for AVX-512.
    if ((xcr0 & 0x6) != 0x6) return SQK_ISA_SCALAR;
    if (__get_cpuid_max(0, 0) < 7) return SQK_ISA_SCALAR;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1;
    const int avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    const int vnni = (c >> 11) & 1;
    if (!(avx2 && fma && f16c)) return SQK_ISA_SCALAR;
    if (avx512f && avx512bw && avx512vl && (xcr0 & 0xE6) == 0xE6) {
        return vnni ? SQK_ISA_AVX512VNNI : SQK_ISA_AVX512;
    }
    return SQK_ISA_AVX2;
}
#elif defined(__aarch64__)
static int32_t sqk_detect(void) { return SQK_ISA_NEON; }
#else
static int32_t sqk_detect(void) { return SQK_ISA_SCALAR; }
#endif

// Computed on first use; racing first calls compute the same value, so a relaxed store is enough.
static _Atomic int32_t sqk_cpu_cache = -1;
static _Atomic int32_t sqk_active_cache = -1;

int32_t sqk_cpu_isa(void) {
    int32_t isa = atomic_load_explicit(&sqk_cpu_cache, memory_order_relaxed);
    if (isa < 0) {
        isa = sqk_detect();
        atomic_store_explicit(&sqk_cpu_cache, isa, memory_order_relaxed);
    }
    return isa;
}

int32_t sqk_isa_runs_on(int32_t isa, int32_t cpu_best) {
    if (isa == SQK_ISA_SCALAR) return 1;
    if (isa == SQK_ISA_NEON) return cpu_best == SQK_ISA_NEON;
    if (isa < SQK_ISA_AVX2 || isa > SQK_ISA_AVX512VNNI) return 0;
    return cpu_best >= SQK_ISA_AVX2 && isa <= cpu_best;
}

const char *sqk_isa_name(int32_t isa) {
    switch (isa) {
    case SQK_ISA_NEON: return "neon";
    case SQK_ISA_AVX2: return "avx2";
    case SQK_ISA_AVX512: return "avx512";
    case SQK_ISA_AVX512VNNI: return "avx512vnni";
    default: return "scalar";
    }
}

int32_t sqk_resolve_isa(const char *request, int32_t cpu_best) {
    if (!request || !*request) return cpu_best;
    for (int32_t isa = SQK_ISA_SCALAR; isa <= SQK_ISA_AVX512VNNI; isa++) {
        if (strcmp(request, sqk_isa_name(isa)) == 0) return sqk_isa_runs_on(isa, cpu_best) ? isa : cpu_best;
    }
    return cpu_best;
}

int32_t sqk_active_isa(void) {
    int32_t isa = atomic_load_explicit(&sqk_active_cache, memory_order_relaxed);
    if (isa < 0) {
        isa = sqk_resolve_isa(getenv("SWIFTQUANT_ISA"), sqk_cpu_isa());
        atomic_store_explicit(&sqk_active_cache, isa, memory_order_relaxed);
    }
    return isa;
}

/// `isa` when this CPU runs it, else the CPU's best: never code the CPU lacks.
static int32_t sqk_runnable(int32_t isa) {
    const int32_t best = sqk_cpu_isa();
    return sqk_isa_runs_on(isa, best) ? isa : best;
}

void sqk_matmul_rows(int32_t isa, const sqk_matmul *product, long row_begin, long row_end) {
    switch (sqk_runnable(isa)) {
#if defined(__x86_64__)
    case SQK_ISA_AVX512VNNI:
    case SQK_ISA_AVX512: sqk_avx512_matmul_rows(product, row_begin, row_end); return;
    case SQK_ISA_AVX2: sqk_avx2_matmul_rows(product, row_begin, row_end); return;
#endif
#if defined(__aarch64__)
    case SQK_ISA_NEON: sqk_neon_matmul_rows(product, row_begin, row_end); return;
#endif
    default: sqk_scalar_matmul_rows(product, row_begin, row_end); return;
    }
}

uint64_t sqk_stream_read(int32_t isa, const void *bytes, size_t count) {
    switch (sqk_runnable(isa)) {
#if defined(__x86_64__)
    case SQK_ISA_AVX512VNNI:
    case SQK_ISA_AVX512: return sqk_avx512_stream_read(bytes, count);
    case SQK_ISA_AVX2: return sqk_avx2_stream_read(bytes, count);
#endif
#if defined(__aarch64__)
    case SQK_ISA_NEON: return sqk_neon_stream_read(bytes, count);
#endif
    default: return sqk_scalar_stream_read(bytes, count);
    }
}
