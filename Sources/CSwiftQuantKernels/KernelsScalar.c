// The portable variant, plain C for any CPU: the reference every other variant must match
// bit for bit. Without a hardware FMA, `fmaf` is a library call (slow but exactly rounded), so
// this variant keeps the same fused operations as the vector ones instead of a faster
// multiply-then-add that would round twice.
#pragma STDC FP_CONTRACT OFF
#include "CSwiftQuantKernels.h"
#include "KernelTable.h"
#include <math.h>

typedef struct { float lane[16]; } V;

#define SQK_FN(name) sqk_scalar_##name

static inline __attribute__((always_inline)) V v_zero(void) {
    V v;
    for (int j = 0; j < 16; j++) v.lane[j] = 0;
    return v;
}
static inline __attribute__((always_inline)) V v_load(const float *p) {
    V v;
    __builtin_memcpy(v.lane, p, sizeof v.lane);
    return v;
}
static inline __attribute__((always_inline)) V v_load_i8(const int8_t *p) {
    V v;
    for (int j = 0; j < 16; j++) v.lane[j] = (float)p[j];
    return v;
}
static inline __attribute__((always_inline)) V v_bcast(float s) {
    V v;
    for (int j = 0; j < 16; j++) v.lane[j] = s;
    return v;
}
static inline __attribute__((always_inline)) V v_mul(V a, V b) {
    for (int j = 0; j < 16; j++) a.lane[j] = a.lane[j] * b.lane[j];
    return a;
}
static inline __attribute__((always_inline)) V v_fma(V a, V b, V c) {
    for (int j = 0; j < 16; j++) c.lane[j] = fmaf(a.lane[j], b.lane[j], c.lane[j]);
    return c;
}
static inline __attribute__((always_inline)) float v_reduce(V a) {
    // The fixed tree: halves 8 apart, then 4, then 2, then the last pair.
    float h8[8], h4[4], h2[2];
    for (int j = 0; j < 8; j++) h8[j] = a.lane[j] + a.lane[j + 8];
    for (int j = 0; j < 4; j++) h4[j] = h8[j] + h8[j + 4];
    for (int j = 0; j < 2; j++) h2[j] = h4[j] + h4[j + 2];
    return h2[0] + h2[1];
}
static inline __attribute__((always_inline)) float s_fma(float a, float b, float c) { return fmaf(a, b, c); }

#define SQK_GEMM_ROWS 4
#define SQK_GEMM_BATCH 1
#define SQK_GEMV_ROWS 4
#include "MatrixKernel.h"

uint64_t sqk_scalar_stream_read(const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    uint64_t sum = 0;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        uint64_t word;
        __builtin_memcpy(&word, p + i, 8);
        sum ^= word;
    }
    for (; i < count; i++) sum ^= p[i];
    return sum;
}

