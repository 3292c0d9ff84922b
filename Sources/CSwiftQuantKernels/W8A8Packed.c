// The blocked W8A8 product on packed weights (CSwiftQuantW8A8.h): a portable kernel compiled for
// each instruction set, and an AVX-512 VNNI register tile of 6 batch rows × 64 output columns.
#pragma STDC FP_CONTRACT OFF
#include "CSwiftQuantKernels.h"
#include <float.h>
#include <math.h>
#include <string.h>

size_t sqk_w8a8_packed_bytes(long out_features, long in_features) {
    const size_t panels = (size_t)((out_features + SQK_W8A8_PANEL - 1) / SQK_W8A8_PANEL);
    return panels * (size_t)((in_features + 3) / 4) * 64;
}

void sqk_w8a8_pack(const int8_t *weights, long out_features, long in_features, int8_t *packed,
                   int32_t *column_sums) {
    const long steps = (in_features + 3) / 4;
    const long panels = (out_features + SQK_W8A8_PANEL - 1) / SQK_W8A8_PANEL;
    for (long panel = 0; panel < panels; panel++) {
        int8_t *out = packed + panel * steps * 64;
        for (long c = 0; c < SQK_W8A8_PANEL; c++) {
            const long o = panel * SQK_W8A8_PANEL + c;
            int32_t sum = 0;
            for (long s = 0; s < steps; s++) {
                for (long i = 0; i < 4; i++) {
                    const long k = 4 * s + i;
                    const int8_t w = o < out_features && k < in_features ? weights[o * in_features + k] : 0;
                    out[s * 64 + c * 4 + i] = w;
                    sum += w;
                }
            }
            column_sums[o] = sum;
        }
    }
}

void sqk_w8a8_group_sums(const int8_t *weights, long out_features, long in_features, long group, int32_t *group_sums) {
    const long stride = (out_features + SQK_W8A8_PANEL - 1) / SQK_W8A8_PANEL * SQK_W8A8_PANEL;
    const long groups = (in_features + group - 1) / group;
    for (long g = 0; g < groups; g++) {
        const long begin = g * group, end = begin + group < in_features ? begin + group : in_features;
        for (long o = 0; o < stride; o++) {
            int32_t sum = 0;
            for (long k = begin; k < end && o < out_features; k++) sum += weights[o * in_features + k];
            group_sums[g * stride + o] = sum;
        }
    }
}

/// The float epilogue every variant shares (the same steps as `sqk_w8a8_finish`).
static inline float sqk_w8a8_packed_finish(const sqk_w8a8_packed_product *p, long o, long b, int32_t dot) {
    float y = (float)dot * p->input_scales[b];
    y = y * (p->scale_kind == SQK_SCALES_ROW ? p->weight_scales[o] : p->tensor_scale);
    if (p->bias) y = y + p->bias[o];
    return y;
}

#define SQK_W8_FN(name) sqk_w8_scalar_##name
#include "W8A8Generic.h"
#undef SQK_W8_FN

#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define SQK_W8_FN(name) sqk_w8_avx2_##name
#include "W8A8Generic.h"
#undef SQK_W8_FN
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))), apply_to = function)
#define SQK_W8_FN(name) sqk_w8_avx512_##name
#include "W8A8Generic.h"
#undef SQK_W8_FN

/// `quantize_rows` of W8A8Generic.h with 16 lanes per step: each group's max|x| over masked
/// loads, then the same divide, clamps and round-half-even (the default rounding mode, as
/// `rintf`) per element, so the codes and scales are the portable kernel's bit for bit.
static long sqk_w8_avx512_quantize_rows_wide(const float *input, long columns, long group, uint8_t *codes,
                                             float *scales, long r0, long r1) {
    const long padded = (columns + 3) / 4 * 4;
    if (group <= 0 || group > columns) group = columns;
    const long groups = (columns + group - 1) / group;
    const __m512 largest = _mm512_set1_ps(FLT_MAX);
    const __m512 upper = _mm512_set1_ps(127.0f), lower = _mm512_set1_ps(-128.0f);
    const __m512i offset = _mm512_set1_epi32(128);
    for (long r = r0; r < r1; r++) {
        const float *row = input + r * columns;
        uint8_t *row_codes = codes + r * padded;
        for (long g = 0; g < groups; g++) {
            const long begin = g * group, count = columns - begin < group ? columns - begin : group;
            const float *x = row + begin;
            uint8_t *q = row_codes + begin;
            __m512 maximum = _mm512_setzero_ps();
            for (long k = 0; k < count; k += 16) {
                const __mmask16 mask = count - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - k)) - 1);
                const __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(mask, x + k));
                if (_mm512_mask_cmp_ps_mask(mask, a, largest, _CMP_LE_OQ) != mask) return r;
                maximum = _mm512_max_ps(maximum, a);
            }
            float scale = _mm512_reduce_max_ps(maximum) / 127.0f;
            if (scale == 0) scale = 1;
            scales[r * groups + g] = scale;
            const __m512 divisor = _mm512_set1_ps(scale);
            for (long k = 0; k < count; k += 16) {
                const __mmask16 mask = count - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - k)) - 1);
                __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(mask, x + k), divisor);
                v = _mm512_min_ps(v, upper);
                v = _mm512_max_ps(v, lower);
                const __m512i code = _mm512_add_epi32(_mm512_cvtps_epi32(v), offset);
                _mm_mask_storeu_epi8(q + k, mask, _mm512_cvtepi32_epi8(code));
            }
        }
        for (long k = columns; k < padded; k++) row_codes[k] = 128;
    }
    return -1;
}
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"))), apply_to = function)

#define SQK_W8_TILE_ROWS 6
#define SQK_W8_TILE_PANELS 4

/// Batch rows `b..<b+R` × panels `panel..<panel+P`; R ≤ 6 and P ≤ 4 are constants after
/// inlining, so the R × P sums stay in registers. Each step broadcasts 4 activation bytes of a
/// row and multiplies them with 4 bytes of each of 16 columns (`vpdpbusd`).
static inline __attribute__((always_inline)) void sqk_vnni_packed_tile(
    const sqk_w8a8_packed_product *p, long b, long panel, int R, int P) {
    const long steps = (p->in_features + 3) / 4, padded = steps * 4;
    const int8_t *w = p->packed + panel * steps * 64;
    const uint8_t *x[SQK_W8_TILE_ROWS];
    __m512i acc[SQK_W8_TILE_ROWS][SQK_W8_TILE_PANELS];
    for (int r = 0; r < R; r++) {
        x[r] = p->input + (b + r) * padded;
        for (int q = 0; q < P; q++) acc[r][q] = _mm512_setzero_si512();
    }
    for (long s = 0; s < steps; s++) {
        __m512i wv[SQK_W8_TILE_PANELS];
        for (int q = 0; q < P; q++) wv[q] = _mm512_loadu_si512(w + (q * steps + s) * 64);
        for (int r = 0; r < R; r++) {
            int32_t four;
            memcpy(&four, x[r] + 4 * s, 4);
            const __m512i xv = _mm512_set1_epi32(four);
            for (int q = 0; q < P; q++) acc[r][q] = _mm512_dpbusd_epi32(acc[r][q], xv, wv[q]);
        }
    }
    const long out = p->out_features;
    for (int q = 0; q < P; q++) {
        const long o = (panel + q) * SQK_W8A8_PANEL;
        const long width = out - o < SQK_W8A8_PANEL ? out - o : SQK_W8A8_PANEL;
        const __mmask16 mask = width >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
        const __m512i offset = _mm512_slli_epi32(_mm512_loadu_si512(p->column_sums + o), 7);
        const __m512 weight_scale = p->scale_kind == SQK_SCALES_ROW ? _mm512_maskz_loadu_ps(mask, p->weight_scales + o)
                                                                    : _mm512_set1_ps(p->tensor_scale);
        const __m512 bias = p->bias ? _mm512_maskz_loadu_ps(mask, p->bias + o) : _mm512_setzero_ps();
        for (int r = 0; r < R; r++) {
            const __m512i dot = _mm512_sub_epi32(acc[r][q], offset);
            __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(dot), _mm512_set1_ps(p->input_scales[b + r]));
            y = _mm512_mul_ps(y, weight_scale);
            if (p->bias) y = _mm512_add_ps(y, bias);
            _mm512_mask_storeu_ps(p->output + (b + r) * out + o, mask, y);
        }
    }
}

static inline __attribute__((always_inline)) void sqk_vnni_packed_rows(
    const sqk_w8a8_packed_product *p, long panel, int P) {
    long b = 0;
    for (; b + SQK_W8_TILE_ROWS <= p->batch; b += SQK_W8_TILE_ROWS) sqk_vnni_packed_tile(p, b, panel, SQK_W8_TILE_ROWS, P);
    switch (p->batch - b) {
    case 5: sqk_vnni_packed_tile(p, b, panel, 5, P); break;
    case 4: sqk_vnni_packed_tile(p, b, panel, 4, P); break;
    case 3: sqk_vnni_packed_tile(p, b, panel, 3, P); break;
    case 2: sqk_vnni_packed_tile(p, b, panel, 2, P); break;
    case 1: sqk_vnni_packed_tile(p, b, panel, 1, P); break;
    default: break;
    }
}

#define SQK_W8_GROUP_PANELS 2

/// Per-group activation scales: rows `b..<b+R` × panels `panel..<panel+P` (R ≤ 6, P ≤ 2), with
/// R × P int32 sums for the current group and R × P Float32 totals in registers.
static inline __attribute__((always_inline)) void sqk_vnni_grouped_tile(
    const sqk_w8a8_packed_product *p, long b, long panel, int R, int P) {
    const long steps = (p->in_features + 3) / 4, padded = steps * 4;
    const long group_steps = p->group_size / 4, groups = (steps + group_steps - 1) / group_steps;
    const long stride = (p->out_features + SQK_W8A8_PANEL - 1) / SQK_W8A8_PANEL * SQK_W8A8_PANEL;
    const int8_t *w = p->packed + panel * steps * 64;
    const uint8_t *x[SQK_W8_TILE_ROWS];
    __m512 total[SQK_W8_TILE_ROWS][SQK_W8_GROUP_PANELS];
    for (int r = 0; r < R; r++) {
        x[r] = p->input + (b + r) * padded;
        for (int q = 0; q < P; q++) total[r][q] = _mm512_setzero_ps();
    }
    for (long g = 0; g < groups; g++) {
        const long s1 = (g + 1) * group_steps < steps ? (g + 1) * group_steps : steps;
        __m512i acc[SQK_W8_TILE_ROWS][SQK_W8_GROUP_PANELS];
        for (int q = 0; q < P; q++) {
            const __m512i start = _mm512_mullo_epi32(
                _mm512_loadu_si512(p->group_sums + g * stride + (panel + q) * SQK_W8A8_PANEL), _mm512_set1_epi32(-128));
            for (int r = 0; r < R; r++) acc[r][q] = start;
        }
        for (long s = g * group_steps; s < s1; s++) {
            __m512i wv[SQK_W8_GROUP_PANELS];
            for (int q = 0; q < P; q++) wv[q] = _mm512_loadu_si512(w + (q * steps + s) * 64);
            for (int r = 0; r < R; r++) {
                int32_t four;
                memcpy(&four, x[r] + 4 * s, 4);
                const __m512i xv = _mm512_set1_epi32(four);
                for (int q = 0; q < P; q++) acc[r][q] = _mm512_dpbusd_epi32(acc[r][q], xv, wv[q]);
            }
        }
        for (int r = 0; r < R; r++) {
            const __m512 scale = _mm512_set1_ps(p->input_scales[(b + r) * groups + g]);
            for (int q = 0; q < P; q++) total[r][q] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][q]), scale, total[r][q]);
        }
    }
    const long out = p->out_features;
    for (int q = 0; q < P; q++) {
        const long o = (panel + q) * SQK_W8A8_PANEL;
        const long width = out - o < SQK_W8A8_PANEL ? out - o : SQK_W8A8_PANEL;
        const __mmask16 mask = width >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
        const __m512 weight_scale = p->scale_kind == SQK_SCALES_ROW ? _mm512_maskz_loadu_ps(mask, p->weight_scales + o)
                                                                    : _mm512_set1_ps(p->tensor_scale);
        const __m512 bias = p->bias ? _mm512_maskz_loadu_ps(mask, p->bias + o) : _mm512_setzero_ps();
        for (int r = 0; r < R; r++) {
            __m512 y = _mm512_mul_ps(total[r][q], weight_scale);
            if (p->bias) y = _mm512_add_ps(y, bias);
            _mm512_mask_storeu_ps(p->output + (b + r) * out + o, mask, y);
        }
    }
}

static inline __attribute__((always_inline)) void sqk_vnni_grouped_rows(
    const sqk_w8a8_packed_product *p, long panel, int P) {
    long b = 0;
    for (; b + SQK_W8_TILE_ROWS <= p->batch; b += SQK_W8_TILE_ROWS) sqk_vnni_grouped_tile(p, b, panel, SQK_W8_TILE_ROWS, P);
    switch (p->batch - b) {
    case 5: sqk_vnni_grouped_tile(p, b, panel, 5, P); break;
    case 4: sqk_vnni_grouped_tile(p, b, panel, 4, P); break;
    case 3: sqk_vnni_grouped_tile(p, b, panel, 3, P); break;
    case 2: sqk_vnni_grouped_tile(p, b, panel, 2, P); break;
    case 1: sqk_vnni_grouped_tile(p, b, panel, 1, P); break;
    default: break;
    }
}

static void sqk_vnni_packed_panels(const sqk_w8a8_packed_product *p, long panel0, long panel1) {
    long panel = panel0;
    if (p->group_size > 0) {
        for (; panel + SQK_W8_GROUP_PANELS <= panel1; panel += SQK_W8_GROUP_PANELS) {
            sqk_vnni_grouped_rows(p, panel, SQK_W8_GROUP_PANELS);
        }
        if (panel < panel1) sqk_vnni_grouped_rows(p, panel, 1);
        return;
    }
    for (; panel + SQK_W8_TILE_PANELS <= panel1; panel += SQK_W8_TILE_PANELS) {
        sqk_vnni_packed_rows(p, panel, SQK_W8_TILE_PANELS);
    }
    switch (panel1 - panel) {
    case 3: sqk_vnni_packed_rows(p, panel, 3); break;
    case 2: sqk_vnni_packed_rows(p, panel, 2); break;
    case 1: sqk_vnni_packed_rows(p, panel, 1); break;
    default: break;
    }
}
#pragma clang attribute pop
#endif

/// `isa` when this CPU runs it, else the CPU's best.
static int32_t sqk_w8_variant(int32_t isa) {
    const int32_t best = sqk_cpu_isa();
    return sqk_isa_runs_on(isa, best) ? isa : best;
}

long sqk_w8a8_quantize_rows(int32_t isa, const float *input, long columns, long group, uint8_t *codes,
                            float *scales, long row_begin, long row_end) {
    switch (sqk_w8_variant(isa)) {
#if defined(__x86_64__)
    case SQK_ISA_AVX512VNNI:
    case SQK_ISA_AVX512: return sqk_w8_avx512_quantize_rows_wide(input, columns, group, codes, scales, row_begin, row_end);
    case SQK_ISA_AVX2: return sqk_w8_avx2_quantize_rows(input, columns, group, codes, scales, row_begin, row_end);
#endif
    default: return sqk_w8_scalar_quantize_rows(input, columns, group, codes, scales, row_begin, row_end);
    }
}

void sqk_w8a8_packed_panels(int32_t isa, const sqk_w8a8_packed_product *product, long panel_begin, long panel_end) {
    switch (sqk_w8_variant(isa)) {
#if defined(__x86_64__)
    case SQK_ISA_AVX512VNNI: sqk_vnni_packed_panels(product, panel_begin, panel_end); return;
    case SQK_ISA_AVX512: sqk_w8_avx512_packed_panels(product, panel_begin, panel_end); return;
    case SQK_ISA_AVX2: sqk_w8_avx2_packed_panels(product, panel_begin, panel_end); return;
#endif
    default: sqk_w8_scalar_packed_panels(product, panel_begin, panel_end); return;
    }
}
