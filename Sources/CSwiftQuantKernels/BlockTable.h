// The block kernels' variants, each defined in its own file; BlocksDispatch.c picks one.
#ifndef SQK_BLOCK_TABLE_H
#define SQK_BLOCK_TABLE_H
#include "CSwiftQuantBlocks.h"

#define SQK_DECLARE_BLOCKS(prefix)                                                                          \
    void prefix##gelu(float *values, long begin, long end);                                               \
    void prefix##softmax_rows(float *values, long columns, long r0, long r1);                             \
    void prefix##layernorm_rows(const float *x, const float *residual, float *out, const float *gamma,    \
                                const float *beta, float epsilon, long size, long r0, long r1);           \
    int32_t prefix##attention_heads(const sqk_attention *p, long h0, long h1);                            \
    int32_t prefix##causal_attention_tasks(const sqk_causal_attention *p, long t0, long t1);              \
    void prefix##silu_mul(float *gates, const float *ups, long begin, long end);

SQK_DECLARE_BLOCKS(sqk_scalar_block_)
#if defined(__x86_64__)
SQK_DECLARE_BLOCKS(sqk_avx2_block_)
SQK_DECLARE_BLOCKS(sqk_avx512_block_)
#endif
#endif
