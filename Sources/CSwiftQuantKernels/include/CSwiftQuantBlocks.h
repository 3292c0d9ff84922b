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

/// Causal attention of a decoder with grouped key/value heads over a key/value cache: query
/// rows `0..<rows` are the positions `past..<past + rows`; row `r` of query head `h` attends to
/// positions `0...past + r` of key/value head `h / (heads / kv_heads)`. Each (head, row) pair is
/// one task, numbered `head × rows + row`: scores `q·k × scale` (each dot product in 16 fixed
/// lanes summed by the fixed tree, the columns past the last whole 16 one at a time), the
/// softmax of `sqk_softmax_rows`, then `out = Σⱼ pⱼ · vⱼ` over positions in order.
typedef struct {
    /// `[rows, heads × head_dim]` row-major.
    const float *query;
    /// Position `j` of key/value head `g` at `keys + g × head_stride + j × head_dim`.
    const float *keys;
    const float *values;
    /// `[rows, heads × head_dim]` row-major; each task writes only its own `head_dim` values.
    float *output;
    long rows;
    long past;
    long heads;
    long kv_heads;
    long head_dim;
    long head_stride;
    float scale;
} sqk_causal_attention;

/// Computes tasks `task_begin..<task_end`. Returns 0, or -1 when scratch memory could not be
/// allocated (nothing is written then).
int32_t sqk_causal_attention_tasks(int32_t isa, const sqk_causal_attention *attention, long task_begin, long task_end);

/// `gates[i] = gates[i] · sigmoid(gates[i]) · ups[i]` (SwiGLU's SiLU-gated product) for `i` in
/// `begin..<end`, with the exp of `sqk_softmax_rows`.
void sqk_silu_mul(int32_t isa, float *gates, const float *ups, long begin, long end);

#ifdef __cplusplus
}
#endif

#endif
