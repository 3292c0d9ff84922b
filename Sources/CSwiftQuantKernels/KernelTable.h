// The variants' entry points, each defined in its own file; Dispatch.c picks one.
#ifndef SQK_KERNEL_TABLE_H
#define SQK_KERNEL_TABLE_H
#include "CSwiftQuantKernels.h"

void sqk_scalar_matmul_rows(const sqk_matmul *p, long o0, long o1);
uint64_t sqk_scalar_stream_read(const void *bytes, size_t count);
void sqk_scalar_w8a8_rows(const sqk_w8a8 *p, long o0, long o1);
/// The float epilogue every W8A8 variant shares, so that all round alike.
static inline float sqk_w8a8_finish(const sqk_w8a8 *p, long o, long b, int32_t dot) {
    float y = (float)dot * p->input_scales[b];
    y = y * (p->scale_kind == SQK_SCALES_ROW ? p->weight_scales[o] : p->tensor_scale);
    if (p->bias) y = y + p->bias[o];
    return y;
}

#if defined(__x86_64__)
void sqk_avx2_matmul_rows(const sqk_matmul *p, long o0, long o1);
uint64_t sqk_avx2_stream_read(const void *bytes, size_t count);
void sqk_avx2_w8a8_rows(const sqk_w8a8 *p, long o0, long o1);
void sqk_vnni_w8a8_rows(const sqk_w8a8 *p, long o0, long o1);
void sqk_avx512_matmul_rows(const sqk_matmul *p, long o0, long o1);
uint64_t sqk_avx512_stream_read(const void *bytes, size_t count);
#endif

#if defined(__aarch64__)
void sqk_neon_matmul_rows(const sqk_matmul *p, long o0, long o1);
uint64_t sqk_neon_stream_read(const void *bytes, size_t count);
#endif

#endif
