// Picks the block kernels' variant the same way Dispatch.c picks the products': the requested
// one if this CPU runs it, else the CPU's best. AVX-512 VNNI adds nothing for Float32 blocks.
#include "CSwiftQuantKernels.h"
#include "BlockTable.h"

static int32_t sqk_block_variant(int32_t isa) {
    const int32_t best = sqk_cpu_isa();
    const int32_t chosen = sqk_isa_runs_on(isa, best) ? isa : best;
    return chosen == SQK_ISA_AVX512VNNI ? SQK_ISA_AVX512 : chosen;
}

#if defined(__x86_64__)
#define SQK_BLOCK_CALL(isa, name, ...)                                                          \
    switch (sqk_block_variant(isa)) {                                                           \
    case SQK_ISA_AVX512: return sqk_avx512_block_##name(__VA_ARGS__);                           \
    case SQK_ISA_AVX2: return sqk_avx2_block_##name(__VA_ARGS__);                               \
    default: return sqk_scalar_block_##name(__VA_ARGS__);                                       \
    }
#else
#define SQK_BLOCK_CALL(isa, name, ...) (void)isa; return sqk_scalar_block_##name(__VA_ARGS__);
#endif

void sqk_gelu(int32_t isa, float *values, long begin, long end) {
    SQK_BLOCK_CALL(isa, gelu, values, begin, end)
}

void sqk_softmax_rows(int32_t isa, float *values, long columns, long row_begin, long row_end) {
    SQK_BLOCK_CALL(isa, softmax_rows, values, columns, row_begin, row_end)
}

void sqk_layernorm_rows(int32_t isa, const float *x, const float *residual, float *out, const float *gamma,
                        const float *beta, float epsilon, long size, long row_begin, long row_end) {
    SQK_BLOCK_CALL(isa, layernorm_rows, x, residual, out, gamma, beta, epsilon, size, row_begin, row_end)
}

int32_t sqk_attention_heads(int32_t isa, const sqk_attention *attention, long head_begin, long head_end) {
    SQK_BLOCK_CALL(isa, attention_heads, attention, head_begin, head_end)
}

int32_t sqk_causal_attention_tasks(int32_t isa, const sqk_causal_attention *attention, long task_begin, long task_end) {
    SQK_BLOCK_CALL(isa, causal_attention_tasks, attention, task_begin, task_end)
}

void sqk_silu_mul(int32_t isa, float *gates, const float *ups, long begin, long end) {
    SQK_BLOCK_CALL(isa, silu_mul, gates, ups, begin, end)
}
