// The variants' entry points, each defined in its own file; Dispatch.c picks one.
#ifndef SQK_KERNEL_TABLE_H
#define SQK_KERNEL_TABLE_H
#include "CSwiftQuantKernels.h"

void sqk_scalar_matmul_rows(const sqk_matmul *p, long o0, long o1);
uint64_t sqk_scalar_stream_read(const void *bytes, size_t count);
#if defined(__x86_64__)
void sqk_avx2_matmul_rows(const sqk_matmul *p, long o0, long o1);
uint64_t sqk_avx2_stream_read(const void *bytes, size_t count);
void sqk_avx512_matmul_rows(const sqk_matmul *p, long o0, long o1);
uint64_t sqk_avx512_stream_read(const void *bytes, size_t count);
#endif

#if defined(__aarch64__)
void sqk_neon_matmul_rows(const sqk_matmul *p, long o0, long o1);
uint64_t sqk_neon_stream_read(const void *bytes, size_t count);
#endif

#endif
