// arm64 NEON (every arm64 CPU has it, with fused multiply-add): the 16 lanes are four
// 4-lane registers (lanes 0–3, 4–7, 8–11, 12–15).
#pragma STDC FP_CONTRACT OFF
#include "CSwiftQuantKernels.h"
#include "KernelTable.h"

#if defined(__aarch64__)
#include <arm_neon.h>

typedef struct { float32x4_t a, b, c, d; } V;

#define SQK_FN(name) sqk_neon_##name

static inline __attribute__((always_inline)) V v_zero(void) {
    const float32x4_t z = vdupq_n_f32(0);
    return (V){z, z, z, z};
}
static inline __attribute__((always_inline)) V v_load(const float *p) {
    return (V){vld1q_f32(p), vld1q_f32(p + 4), vld1q_f32(p + 8), vld1q_f32(p + 12)};
}
static inline __attribute__((always_inline)) V v_load_i8(const int8_t *p) {
    const int8x16_t q = vld1q_s8(p);
    const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_s8(vget_high_s8(q));
    return (V){vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo))),
               vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi)))};
}
static inline __attribute__((always_inline)) V v_bcast(float s) {
    const float32x4_t v = vdupq_n_f32(s);
    return (V){v, v, v, v};
}
static inline __attribute__((always_inline)) V v_mul(V x, V y) {
    return (V){vmulq_f32(x.a, y.a), vmulq_f32(x.b, y.b), vmulq_f32(x.c, y.c), vmulq_f32(x.d, y.d)};
}
static inline __attribute__((always_inline)) V v_fma(V x, V y, V acc) {
    return (V){vfmaq_f32(acc.a, x.a, y.a), vfmaq_f32(acc.b, x.b, y.b),
               vfmaq_f32(acc.c, x.c, y.c), vfmaq_f32(acc.d, x.d, y.d)};
}
static inline __attribute__((always_inline)) float v_reduce(V x) {
    // Lanes j and j + 8, then j and j + 4, then j and j + 2, then the last pair.
    const float32x4_t h8a = vaddq_f32(x.a, x.c), h8b = vaddq_f32(x.b, x.d);
    const float32x4_t h4 = vaddq_f32(h8a, h8b);
    const float32x2_t h2 = vadd_f32(vget_low_f32(h4), vget_high_f32(h4));
    return vget_lane_f32(h2, 0) + vget_lane_f32(h2, 1);
}
static inline __attribute__((always_inline)) float s_fma(float a, float b, float c) {
    return vgetq_lane_f32(vfmaq_f32(vdupq_n_f32(c), vdupq_n_f32(a), vdupq_n_f32(b)), 0);
}

#define SQK_GEMM_ROWS 2
#define SQK_GEMM_BATCH 2
#define SQK_GEMV_ROWS 4
#include "MatrixKernel.h"

uint64_t sqk_neon_stream_read(const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    uint64x2_t a = vdupq_n_u64(0), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 64 <= count; i += 64) {
        a = veorq_u64(a, vld1q_u64((const uint64_t *)(p + i)));
        b = veorq_u64(b, vld1q_u64((const uint64_t *)(p + i + 16)));
        c = veorq_u64(c, vld1q_u64((const uint64_t *)(p + i + 32)));
        d = veorq_u64(d, vld1q_u64((const uint64_t *)(p + i + 48)));
    }
    const uint64x2_t all = veorq_u64(veorq_u64(a, b), veorq_u64(c, d));
    return vgetq_lane_u64(all, 0) ^ vgetq_lane_u64(all, 1) ^ sqk_scalar_stream_read(p + i, count - i);
}
#endif
