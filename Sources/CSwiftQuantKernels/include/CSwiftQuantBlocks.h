// Element-wise and small-product kernels of the transformer blocks (LayerNorm, GELU, softmax,
// attention over short heads), compiled once per instruction set like the matrix products.
//
// Every variant gives the same numbers bit for bit: the code is written with separate
// multiplies and adds (no contraction into fused multiply-adds), element-wise work has no
// order to change, and every sum is accumulated in a fixed number of lanes summed by one fixed
// tree, so a wider vector unit only lays the same operations out differently.
#ifndef CSWIFTQUANTBLOCKS_H
#define CSWIFTQUANTBLOCKS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// `out[r] = LayerNorm(x[r] + residual[r]) · gamma + beta` for rows `row_begin..<row_end` of
/// `[rows, size]` matrices (`residual` may be NULL; `out` may alias `x` or `residual`). Mean and
/// variance are accumulated in Double.
void sqk_layernorm_rows(int32_t isa, const float *x, const float *residual, float *out, const float *gamma,
                        const float *beta, float epsilon, long size, long row_begin, long row_end);

/// `values[i] = values[i] · Φ(values[i])` for `i` in `begin..<end`, with erf from a rational
/// approximation (absolute error below 5e-7).
void sqk_gelu(int32_t isa, float *values, long begin, long end);

/// Softmax of rows `row_begin..<row_end` of a `[rows, columns]` matrix, in place (the row
/// maximum subtracted first; exp by range reduction and a degree-6 polynomial, about 2 ulp).
void sqk_softmax_rows(int32_t isa, float *values, long columns, long row_begin, long row_end);

/// Scaled dot-product attention without a mask over `[tokens, width]` row-major Q, K, V, whose
/// columns are `width / head_dim` heads side by side: `out = softmax(Q·Kᵀ × scale) · V` per head.
typedef struct {
    const float *query;
    const float *key;
    const float *value;
    float *output;
    long tokens;
    long width;
    long head_dim;
    float scale;
} sqk_attention;

/// Computes heads `head_begin..<head_end` (each writes only its own columns of `output`).
/// Returns 0, or -1 when scratch memory could not be allocated (nothing is written then).
int32_t sqk_attention_heads(int32_t isa, const sqk_attention *attention, long head_begin, long head_end);

#ifdef __cplusplus
}
#endif

#endif
