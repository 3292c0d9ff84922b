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
    float maximum = -INFINITY;
    for (long j = 0; j < columns; j++) maximum = row[j] > maximum ? row[j] : maximum;
    float lanes[SQK_LANES] = {0};
    long j = 0;
    for (; j + SQK_LANES <= columns; j += SQK_LANES) {
        for (int l = 0; l < SQK_LANES; l++) {
            const float e = SQK_BLOCK_FN(exp)(row[j + l] - maximum);
            row[j + l] = e;
            lanes[l] = lanes[l] + e;
        }
    }
    float sum = SQK_BLOCK_FN(sum16)(lanes);
    for (; j < columns; j++) {
        const float e = SQK_BLOCK_FN(exp)(row[j] - maximum);
        row[j] = e;
        sum = sum + e;
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

int32_t SQK_BLOCK_FN(attention_heads)(const sqk_attention *p, long h0, long h1) {
    const long n = p->tokens, width = p->width, d = p->head_dim;
    // Kᵀ of one head ([d, n]), one row of scores, and one scaled query row.
    float *scratch = malloc(sizeof(float) * (size_t)(d * n + n + d));
    if (!scratch) return -1;
    float *kt = scratch, *scores = scratch + d * n, *qrow = scores + n;
    for (long head = h0; head < h1; head++) {
        const long column = head * d;
        for (long s = 0; s < n; s++) {
            for (long k = 0; k < d; k++) kt[k * n + s] = p->key[s * width + column + k];
        }
        for (long t = 0; t < n; t++) {
            for (long k = 0; k < d; k++) qrow[k] = p->query[t * width + column + k] * p->scale;
            // scores[s] = Σₖ q[k] · K[s, k], accumulated over k in order for every s at once.
            for (long s = 0; s < n; s++) scores[s] = qrow[0] * kt[s];
            for (long k = 1; k < d; k++) {
                const float q = qrow[k];
                const float *ktk = kt + k * n;
                for (long s = 0; s < n; s++) scores[s] = scores[s] + q * ktk[s];
            }
            SQK_BLOCK_FN(softmax_row)(scores, n);
            float *o = p->output + t * width + column;
            const float *v0 = p->value + column;
            for (long j = 0; j < d; j++) o[j] = scores[0] * v0[j];
            for (long s = 1; s < n; s++) {
                const float w = scores[s];
                const float *vs = p->value + s * width + column;
                for (long j = 0; j < d; j++) o[j] = o[j] + w * vs[j];
            }
        }
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
