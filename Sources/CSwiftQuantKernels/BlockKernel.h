// The block kernels, written once in plain C and included by each instruction-set file, which
// defines SQK_BLOCK_FN(name) and compiles this under its target attributes: the compiler
// vectorizes the loops to that width. FP_CONTRACT is off in every including file, and sums use
// SQK_LANES fixed lanes, so every variant performs the same operations (CSwiftQuantBlocks.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SQK_LANES 16

/// Sums 16 lanes by one fixed pairwise tree.
static inline float SQK_BLOCK_FN(sum16)(const float *lanes) {
    float a[8], b[4], c[2];
    for (int i = 0; i < 8; i++) a[i] = lanes[i] + lanes[i + 8];
    for (int i = 0; i < 4; i++) b[i] = a[i] + a[i + 4];
    for (int i = 0; i < 2; i++) c[i] = b[i] + b[i + 2];
    return c[0] + c[1];
}

/// exp(x) for x ≤ 0 after the softmax shift (Cody–Waite range reduction, Cephes polynomial).
static inline float SQK_BLOCK_FN(exp)(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = p * (r * r) + r + 1.0f;
    union { int32_t i; float f; } scale;
    scale.i = ((int32_t)n + 127) << 23;
    return y * scale.f;
}

/// erf(x) as a rational function of x (the Eigen/XLA float approximation), clamped to ±4
/// where erf is ±1 in Float32.
static inline float SQK_BLOCK_FN(erf)(float x) {
    x = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
    const float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 + -2.10102402082508e-06f;
    p = p * x2 + -5.69250639462346e-05f;
    p = p * x2 + -7.34990630326855e-04f;
    p = p * x2 + -2.95459980854025e-03f;
    p = p * x2 + -1.60960333262415e-02f;
    p = p * x;
    float q = -1.45660718464996e-05f;
    q = q * x2 + -2.13374055278905e-04f;
    q = q * x2 + -1.68282697438203e-03f;
    q = q * x2 + -7.37332916720468e-03f;
    q = q * x2 + -1.42647390514189e-02f;
    return p / q;
}

void SQK_BLOCK_FN(gelu)(float *values, long begin, long end) {
    for (long i = begin; i < end; i++) {
        const float x = values[i];
        values[i] = 0.5f * x * (1.0f + SQK_BLOCK_FN(erf)(x * 0.70710678118654752f));
    }
}

static inline void SQK_BLOCK_FN(softmax_row)(float *row, long columns) {
    // The largest value in 16 lanes, then across them: the same value as one pass in order
    // (NaNs are skipped either way; a ±0 maximum gives the same exps).
    float highest[SQK_LANES];
    for (int l = 0; l < SQK_LANES; l++) highest[l] = -INFINITY;
    long j = 0;
    for (; j + SQK_LANES <= columns; j += SQK_LANES) {
        for (int l = 0; l < SQK_LANES; l++) highest[l] = row[j + l] > highest[l] ? row[j + l] : highest[l];
    }
    float maximum = -INFINITY;
    for (int l = 0; l < SQK_LANES; l++) maximum = highest[l] > maximum ? highest[l] : maximum;
    for (; j < columns; j++) maximum = row[j] > maximum ? row[j] : maximum;
    float lanes[SQK_LANES] = {0};
    for (j = 0; j + SQK_LANES <= columns; j += SQK_LANES) {
        for (int l = 0; l < SQK_LANES; l++) {
            const float e = SQK_BLOCK_FN(exp)(row[j + l] - maximum);
            row[j + l] = e;
            lanes[l] = lanes[l] + e;
        }
    }
    float sum = SQK_BLOCK_FN(sum16)(lanes);
    if (j < columns) {
        // The tail's exps in one 16-lane block (each the same value as one at a time), added
        // one by one in order.
        const long rest = columns - j;
        float tail[SQK_LANES];
        for (int l = 0; l < SQK_LANES; l++) tail[l] = SQK_BLOCK_FN(exp)((l < rest ? row[j + l] : maximum) - maximum);
        for (long l = 0; l < rest; l++) {
            row[j + l] = tail[l];
            sum = sum + tail[l];
        }
    }
    const float inverse = 1.0f / sum;
    for (j = 0; j < columns; j++) row[j] = row[j] * inverse;
}

void SQK_BLOCK_FN(softmax_rows)(float *values, long columns, long r0, long r1) {
    for (long r = r0; r < r1; r++) SQK_BLOCK_FN(softmax_row)(values + r * columns, columns);
}

void SQK_BLOCK_FN(layernorm_rows)(const float *x, const float *residual, float *out, const float *gamma,
                                  const float *beta, float epsilon, long size, long r0, long r1) {
    for (long r = r0; r < r1; r++) {
        const float *xr = x + r * size;
        const float *rr = residual ? residual + r * size : 0;
        float *o = out + r * size;
        // The residual sum is rounded to Float32 first, as an unfused `x + residual` would be.
        for (long j = 0; j < size; j++) o[j] = rr ? xr[j] + rr[j] : xr[j];
        double lanes[8] = {0};
        long j = 0;
        for (; j + 8 <= size; j += 8) {
            for (int l = 0; l < 8; l++) lanes[l] = lanes[l] + (double)o[j + l];
        }
        double sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
        for (; j < size; j++) sum = sum + (double)o[j];
        const double mean = sum / (double)size;
        double squares_lanes[8] = {0};
        for (j = 0; j + 8 <= size; j += 8) {
            for (int l = 0; l < 8; l++) {
                const double c = (double)o[j + l] - mean;
                squares_lanes[l] = squares_lanes[l] + c * c;
            }
        }
        const double *s = squares_lanes;
        double squares = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
        for (; j < size; j++) {
            const double c = (double)o[j] - mean;
            squares = squares + c * c;
        }
        const double inverse = 1.0 / sqrt(squares / (double)size + (double)epsilon);
        for (j = 0; j < size; j++) o[j] = (float)(((double)o[j] - mean) * inverse) * gamma[j] + beta[j];
    }
}

#define SQK_ATTENTION_ROWS 8
#ifndef SQK_V16_DEFINED
#define SQK_V16_DEFINED
/// 16 Float32 lanes of the compiler's vector extension (element-wise IEEE operations).
typedef float sqk_v16 __attribute__((vector_size(64)));
typedef float sqk_v16u __attribute__((vector_size(64), aligned(4)));
#endif

/// Query rows `t0..<t0+T` of one head (T ≤ 8, a constant after inlining): the T × 16 blocks
/// of scores and of outputs are accumulated in registers (16-lane vectors of the compiler's
/// vector extension, laid out in whatever registers the variant has). Every score and output
/// element takes the same operations in the same order as a one-row loop would: the score is
/// `q₀·k₀`, then `+ qₖ·kₖ` for k in order; the output `p₀·v₀`, then `+ pₛ·vₛ` for s in order.
static inline __attribute__((always_inline)) void SQK_BLOCK_FN(attention_rows)(
    const sqk_attention *p, long column, long t0, int T, const float *kt, const float *vh, float *scores,
    float *qrows, long n16, long d16) {
    const long n = p->tokens, width = p->width, d = p->head_dim;
    for (int t = 0; t < T; t++) {
        for (long k = 0; k < d; k++) qrows[t * d + k] = p->query[(t0 + t) * width + column + k] * p->scale;
    }
    for (long s0 = 0; s0 < n16; s0 += 16) {
        sqk_v16 acc[SQK_ATTENTION_ROWS];
        const sqk_v16 k0 = *(const sqk_v16u *)(kt + s0);
        for (int t = 0; t < T; t++) acc[t] = qrows[t * d] * k0;
        for (long k = 1; k < d; k++) {
            const sqk_v16 kk = *(const sqk_v16u *)(kt + k * n16 + s0);
            for (int t = 0; t < T; t++) acc[t] = acc[t] + qrows[t * d + k] * kk;
        }
        for (int t = 0; t < T; t++) *(sqk_v16u *)(scores + t * n16 + s0) = acc[t];
    }
    for (int t = 0; t < T; t++) SQK_BLOCK_FN(softmax_row)(scores + t * n16, n);
    for (long j0 = 0; j0 < d16; j0 += 16) {
        sqk_v16 acc[SQK_ATTENTION_ROWS];
        const sqk_v16 v0 = *(const sqk_v16u *)(vh + j0);
        for (int t = 0; t < T; t++) acc[t] = scores[t * n16] * v0;
        for (long s = 1; s < n; s++) {
            const sqk_v16 vs = *(const sqk_v16u *)(vh + s * d16 + j0);
            for (int t = 0; t < T; t++) acc[t] = acc[t] + scores[t * n16 + s] * vs;
        }
        const long count = d - j0 < 16 ? d - j0 : 16;
        for (int t = 0; t < T; t++) {
            float lanes[16];
            *(sqk_v16u *)lanes = acc[t];
            float *o = p->output + (t0 + t) * width + column + j0;
            for (long l = 0; l < count; l++) o[l] = lanes[l];
        }
    }
}

int32_t SQK_BLOCK_FN(attention_heads)(const sqk_attention *p, long h0, long h1) {
    const long n = p->tokens, width = p->width, d = p->head_dim;
    const long n16 = (n + 15) / 16 * 16, d16 = (d + 15) / 16 * 16;
    // Kᵀ of one head ([d, n16]) and its V ([n, d16]), zero-padded to whole 16-lane blocks; the
    // scores of a block of rows ([8, n16]) and its scaled query rows ([8, d]).
    const size_t floats = (size_t)(d * n16 + n * d16 + SQK_ATTENTION_ROWS * n16 + SQK_ATTENTION_ROWS * d);
    float *scratch = calloc(floats, sizeof(float));
    if (!scratch) return -1;
    float *kt = scratch, *vh = kt + d * n16, *scores = vh + n * d16, *qrows = scores + SQK_ATTENTION_ROWS * n16;
    for (long head = h0; head < h1; head++) {
        const long column = head * d;
        for (long s = 0; s < n; s++) {
            // A strided store: vectorized it becomes scatters, far slower than plain moves.
#pragma clang loop vectorize(disable)
            for (long k = 0; k < d; k++) kt[k * n16 + s] = p->key[s * width + column + k];
            for (long k = 0; k < d; k++) vh[s * d16 + k] = p->value[s * width + column + k];
        }
        long t = 0;
        for (; t + SQK_ATTENTION_ROWS <= n; t += SQK_ATTENTION_ROWS) {
            SQK_BLOCK_FN(attention_rows)(p, column, t, SQK_ATTENTION_ROWS, kt, vh, scores, qrows, n16, d16);
        }
        for (; t < n; t++) SQK_BLOCK_FN(attention_rows)(p, column, t, 1, kt, vh, scores, qrows, n16, d16);
    }
    free(scratch);
    return 0;
}

void SQK_BLOCK_FN(silu_mul)(float *gates, const float *ups, long begin, long end) {
    for (long i = begin; i < end; i++) {
        const float g = gates[i];
        // exp(-g) for g ≥ 0 (≤ 1, the softmax range), else through 1/exp(g): no overflow either way.
        const float e = SQK_BLOCK_FN(exp)(g >= 0.0f ? -g : g);
        const float sigmoid = g >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        gates[i] = g * sigmoid * ups[i];
    }
}

/// Σₖ a[k] · b[k] in 16 fixed lanes summed by the fixed tree, the tail one at a time.
static inline float SQK_BLOCK_FN(dot)(const float *a, const float *b, long n) {
    float lanes[SQK_LANES] = {0};
    long k = 0;
    for (; k + SQK_LANES <= n; k += SQK_LANES) {
        for (int l = 0; l < SQK_LANES; l++) lanes[l] = lanes[l] + a[k + l] * b[k + l];
    }
    float sum = SQK_BLOCK_FN(sum16)(lanes);
    for (; k < n; k++) sum = sum + a[k] * b[k];
    return sum;
}

int32_t SQK_BLOCK_FN(causal_attention_tasks)(const sqk_causal_attention *p, long t0, long t1) {
    const long d = p->head_dim, width = p->heads * d, group = p->heads / p->kv_heads;
    float *scores = malloc(sizeof(float) * (size_t)(p->past + p->rows));
    if (!scores) return -1;
    for (long task = t0; task < t1; task++) {
        const long head = task / p->rows, row = task % p->rows;
        const long visible = p->past + row + 1;
        const float *q = p->query + row * width + head * d;
        const float *keys = p->keys + (head / group) * p->head_stride;
        const float *values = p->values + (head / group) * p->head_stride;
        for (long j = 0; j < visible; j++) scores[j] = SQK_BLOCK_FN(dot)(q, keys + j * d, d) * p->scale;
        SQK_BLOCK_FN(softmax_row)(scores, visible);
        float *o = p->output + row * width + head * d;
        for (long i = 0; i < d; i++) o[i] = scores[0] * values[i];
        for (long j = 1; j < visible; j++) {
            const float w = scores[j];
            const float *v = values + j * d;
            for (long i = 0; i < d; i++) o[i] = o[i] + w * v[i];
        }
    }
    free(scores);
    return 0;
}
