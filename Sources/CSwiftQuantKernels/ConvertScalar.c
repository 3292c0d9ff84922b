// The conversion kernels without vector extensions beyond the platform baseline: one value per
// "vector", binary16 decoded and encoded in software. The compiler may vectorize the loops.
#pragma STDC FP_CONTRACT OFF
#include "ConvertTable.h"
#include <math.h>

typedef float VF;
typedef uint32_t VU;
#define CV_W 1
#define SQK_CONVERT_FN(name) sqk_scalar_convert_##name

static inline __attribute__((always_inline)) VF cv_load_f16(const unsigned char *p) {
    return sqk_cv_half_to_float((uint16_t)(p[0] | (uint16_t)p[1] << 8));
}
static inline __attribute__((always_inline)) VF cv_load_bf16(const unsigned char *p) {
    return sqk_cv_float((uint32_t)(p[0] | (uint32_t)p[1] << 8) << 16);
}
static inline __attribute__((always_inline)) VF cv_load_f32(const unsigned char *p) {
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}
static inline __attribute__((always_inline)) VF cv_load_f64(const unsigned char *p) {
    double d;
    memcpy(&d, p, sizeof d);
    return (float)d;
}
static inline __attribute__((always_inline)) void cv_store_f32(float *p, VF v) { *p = v; }
static inline __attribute__((always_inline)) VF cv_splat(float s) { return s; }
static inline __attribute__((always_inline)) VU cv_umax_zero(void) { return 0; }
static inline __attribute__((always_inline)) VU cv_umax(VU m, VF v) {
    const uint32_t bits = sqk_cv_bits(v) & 0x7fffffffu;
    return bits > m ? bits : m;
}
static inline __attribute__((always_inline)) uint32_t cv_umax_reduce(VU m) { return m; }
static inline __attribute__((always_inline)) void cv_quantize(int8_t *out, VF w, VF scale) {
    float q = w / scale;
    q = q < 127.0f ? q : 127.0f;
    q = q > -128.0f ? q : -128.0f;
    // Adding 1.5 × 2^23 rounds |q| ≤ 128 to an integer (nearest even) held in the low mantissa bits.
    *out = (int8_t)(uint8_t)(sqk_cv_bits(q + 12582912.0f) & 0xffu);
}
static inline __attribute__((always_inline)) void cv_q8_round(int8_t *out, VF x, VF id) {
    *out = (int8_t)(int32_t)roundf(x * id);
}
static inline __attribute__((always_inline)) uint16_t cv_halfmag_max(const unsigned char *p, long n) {
    uint16_t m = 0;
    for (long i = 0; i < n; i++) {
        const uint16_t h = (uint16_t)((p[2 * i] | (uint16_t)p[2 * i + 1] << 8) & 0x7fffu);
        m = h > m ? h : m;
    }
    return m;
}
static inline __attribute__((always_inline)) uint16_t cv_float_to_half(float f) { return sqk_cv_float_to_half_soft(f); }

typedef struct { float lane[8]; } E8;
#define SQK_E8_MAP(expression)                                                                  \
    E8 r;                                                                                       \
    for (int l = 0; l < 8; l++) r.lane[l] = (expression);                                       \
    return r;
static inline __attribute__((always_inline)) E8 e8_load(const float *p) { SQK_E8_MAP(p[l]) }
static inline __attribute__((always_inline)) E8 e8_load_i8(const int8_t *p) { SQK_E8_MAP((float)p[l]) }
static inline __attribute__((always_inline)) E8 e8_splat(float s) { SQK_E8_MAP(s) }
static inline __attribute__((always_inline)) E8 e8_add(E8 a, E8 b) { SQK_E8_MAP(a.lane[l] + b.lane[l]) }
static inline __attribute__((always_inline)) E8 e8_sub(E8 a, E8 b) { SQK_E8_MAP(a.lane[l] - b.lane[l]) }
static inline __attribute__((always_inline)) E8 e8_mul(E8 a, E8 b) { SQK_E8_MAP(a.lane[l] * b.lane[l]) }
static inline __attribute__((always_inline)) E8 e8_div(E8 a, E8 b) { SQK_E8_MAP(a.lane[l] / b.lane[l]) }
static inline __attribute__((always_inline)) E8 e8_abs(E8 a) { SQK_E8_MAP(sqk_cv_float(sqk_cv_bits(a.lane[l]) & 0x7fffffffu)) }
static inline __attribute__((always_inline)) E8 e8_max(E8 a, E8 b) { SQK_E8_MAP(a.lane[l] > b.lane[l] ? a.lane[l] : b.lane[l]) }
static inline __attribute__((always_inline)) E8 e8_zero_unless_above(E8 x, E8 m, E8 t) {
    SQK_E8_MAP(m.lane[l] <= t.lane[l] ? 0.0f : x.lane[l])
}
static inline __attribute__((always_inline)) float e8_sum(E8 a) {
    float s = -0.0f;
    for (int l = 0; l < 8; l++) s = s + a.lane[l];
    return s;
}
static inline __attribute__((always_inline)) float e8_hmax(E8 a) {
    float m = 0.0f;
    for (int l = 0; l < 8; l++) m = a.lane[l] > m ? a.lane[l] : m;
    return m;
}

#include "ConvertKernel.h"
