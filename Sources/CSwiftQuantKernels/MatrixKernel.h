// The matrix product, written once over a 16-lane vector type and included by each
// instruction-set file, which defines before including it:
//   V                         16 Float32 lanes (one register, or several)
//   v_zero(), v_load(p), v_load_i8(p), v_bcast(s), v_mul(a, b), v_fma(a, b, c) = a × b + c fused,
//   v_reduce(a)               the fixed lane-summing tree of CSwiftQuantKernels.h
//   s_fma(a, b, c)            one fused multiply-add
//   SQK_FN(name)              the variant's name for a function
//   SQK_GEMM_ROWS, SQK_GEMM_BATCH   the register tile of the batched product
//   SQK_GEMV_ROWS             weight rows read together when there is one activation row
// Every variant performs the same operations in the same order on each (row, batch) pair; only
// the tile shapes (how many pairs share loads) differ, so the results are identical.

#define SQK_INLINE static inline __attribute__((always_inline))

/// The group-scaling path: none (per tensor, per row, float); groups of whole chunks of 64 or
/// more (group size a multiple of 16: each group's lanes are summed, then scaled); groups of 16,
/// 32 or 48 (GGUF's Q8_0 blocks are 32), whose chunks are scaled by their group's broadcast scale
/// before the multiply-add — summing such short groups apart would cost a scale operation per
/// chunk or two and a second set of accumulators, more registers than a tile has; or a scale per
/// lane (any other group size: each weight is scaled before its multiply-add).
enum { SQK_MODE_PLAIN = 0, SQK_MODE_GROUP16 = 1, SQK_MODE_GROUPANY = 2, SQK_MODE_GROUPCHUNK = 3 };

SQK_INLINE V SQK_FN(load_weights)(const void *row, long k, int kind) {
    if (kind == SQK_WEIGHTS_I8) return v_load_i8((const int8_t *)row + k);
    return v_load((const float *)row + k);
}

SQK_INLINE float SQK_FN(weight_at)(const void *row, long k, int kind) {
    if (kind == SQK_WEIGHTS_I8) return (float)((const int8_t *)row)[k];
    float value;
    __builtin_memcpy(&value, (const char *)row + 4 * k, 4);
    return value;
}

/// The scales of columns `k..<k+16` for a group size that is not a multiple of 16.
SQK_INLINE V SQK_FN(lane_scales)(const float *scales, long k, long group) {
    float lanes[16];
    for (int j = 0; j < 16; j++) lanes[j] = scales[(k + j) / group];
    return v_load(lanes);
}

/// Everything after the 16-lane sum of pair (o, b): the remaining columns one at a time, the
/// per-tensor or per-row scale, the bias.
SQK_INLINE void SQK_FN(finish)(const sqk_matmul *p, long o, long b, float sum, long k0, int kind) {
    const long n = p->in_features;
    const void *row = (const char *)p->weights + (kind == SQK_WEIGHTS_I8 ? 1 : 4) * o * n;
    const float *x = p->input + b * n;
    for (long k = k0; k < n; k++) {
        float w = SQK_FN(weight_at)(row, k, kind);
        if (p->scale_kind == SQK_SCALES_GROUP) {
            w = w * p->scales[o * (n / p->group_size) + k / p->group_size];
        }
        sum = s_fma(w, x[k], sum);
    }
    if (p->scale_kind == SQK_SCALES_TENSOR) sum = sum * p->tensor_scale;
    if (p->scale_kind == SQK_SCALES_ROW) sum = sum * p->scales[o];
    if (p->bias) sum = sum + p->bias[o];
    p->output[b * p->out_features + o] = sum;
}

/// With one activation row the product streams its weights once and waits on memory unless the
/// lines arrive early: each row asks for the cache line this many bytes ahead of the one it
/// reads, into L2 (`prefetcht1`; a hint, no arithmetic). Over the 100 MB of int8 weights of a
/// 100M-parameter llama on one Zen 4 core this took a pass from 13.4 ms to 5.6–6.4 ms of CPU
/// time (a plain streaming read of the same bytes: 5.2 ms); 4096 bytes or an L1 hint gained only
/// 1.2×, 12288–16384 bytes about as much as 8192.
#define SQK_PREFETCH_BYTES 8192

SQK_INLINE void SQK_FN(prefetch_ahead)(const void *row, long k, int kind) {
    const long bytes = (kind == SQK_WEIGHTS_I8 ? 1 : 4) * k;
    if ((bytes & 63) == 0) __builtin_prefetch((const char *)row + bytes + SQK_PREFETCH_BYTES, 0, 2);
}

/// Rows `o..<o+R` × batch rows `b..<b+B`; R ≤ 4 and B ≤ 4 are constants after inlining, so
/// the accumulators live in registers.
SQK_INLINE void SQK_FN(tile)(const sqk_matmul *p, long o, long b, int R, int B, int kind, int mode) {
    const long n = p->in_features;
    const long whole = n / 16 * 16;
    const long group = p->group_size;
    const long groups_per_row = mode == SQK_MODE_PLAIN ? 0 : n / group;
    const void *w[4];
    const float *s[4];
    const float *x[4];
    V acc[4][4];
    for (int r = 0; r < R; r++) {
        w[r] = (const char *)p->weights + (kind == SQK_WEIGHTS_I8 ? 1 : 4) * (o + r) * n;
        s[r] = mode == SQK_MODE_PLAIN ? 0 : p->scales + (o + r) * groups_per_row;
        for (int j = 0; j < B; j++) acc[r][j] = v_zero();
    }
    for (int j = 0; j < B; j++) x[j] = p->input + (b + j) * n;
    long k = 0;
    if (mode == SQK_MODE_GROUP16) {
        // Whole chunks share one scale: each group is summed unscaled in its own 16 lanes, then
        // added to the running lanes with one fused multiply by the group's scale, so a group
        // of 128 costs one scale operation per row instead of eight.
        for (long g = 0; k < whole; g++) {
            const long end = k + group;
            V part[4][4];
            for (int r = 0; r < R; r++) {
                for (int j = 0; j < B; j++) part[r][j] = v_zero();
            }
            for (; k < end; k += 16) {
                V wv[4];
                for (int r = 0; r < R; r++) {
                    if (B == 1) SQK_FN(prefetch_ahead)(w[r], k, kind);
                    wv[r] = SQK_FN(load_weights)(w[r], k, kind);
                }
                for (int j = 0; j < B; j++) {
                    const V xv = v_load(x[j] + k);
                    for (int r = 0; r < R; r++) part[r][j] = v_fma(wv[r], xv, part[r][j]);
                }
            }
            for (int r = 0; r < R; r++) {
                const V scale = v_bcast(s[r][g]);
                for (int j = 0; j < B; j++) acc[r][j] = v_fma(part[r][j], scale, acc[r][j]);
            }
        }
    } else {
        // The group of the chunk at k (GROUPCHUNK only: chunks never straddle groups there).
        long g = 0, group_end = group;
        for (; k < whole; k += 16) {
            if (mode == SQK_MODE_GROUPCHUNK && k == group_end) {
                g++;
                group_end += group;
            }
            V wv[4];
            for (int r = 0; r < R; r++) {
                if (B == 1) SQK_FN(prefetch_ahead)(w[r], k, kind);
                wv[r] = SQK_FN(load_weights)(w[r], k, kind);
                if (mode == SQK_MODE_GROUPANY) wv[r] = v_mul(wv[r], SQK_FN(lane_scales)(s[r], k, group));
                if (mode == SQK_MODE_GROUPCHUNK) wv[r] = v_mul(wv[r], v_bcast(s[r][g]));
            }
            for (int j = 0; j < B; j++) {
                const V xv = v_load(x[j] + k);
                for (int r = 0; r < R; r++) acc[r][j] = v_fma(wv[r], xv, acc[r][j]);
            }
        }
    }
    for (int r = 0; r < R; r++) {
        for (int j = 0; j < B; j++) SQK_FN(finish)(p, o + r, b + j, v_reduce(acc[r][j]), whole, kind);
    }
}

/// The whole row range for one weight kind and scaling path (constants after inlining).
SQK_INLINE void SQK_FN(rows_for)(const sqk_matmul *p, long o0, long o1, int kind, int mode) {
    const long batch = p->batch;
    long o = o0;
    if (batch >= SQK_GEMM_BATCH) {
        // Batch rows in blocks of about 2 MiB of activations, re-read for every row tile from
        // cache rather than memory; the weights are read once per block. Each pair's
        // arithmetic is the same whatever the blocking.
        long block = (2L << 20) / (4 * p->in_features) / SQK_GEMM_BATCH * SQK_GEMM_BATCH;
        if (block < SQK_GEMM_BATCH) block = SQK_GEMM_BATCH;
        for (long b0 = 0; b0 < batch; b0 += block) {
            const long b1 = b0 + block < batch ? b0 + block : batch;
            for (o = o0; o + SQK_GEMM_ROWS <= o1; o += SQK_GEMM_ROWS) {
                long b = b0;
                for (; b + SQK_GEMM_BATCH <= b1; b += SQK_GEMM_BATCH) {
                    SQK_FN(tile)(p, o, b, SQK_GEMM_ROWS, SQK_GEMM_BATCH, kind, mode);
                }
                for (; b < b1; b++) SQK_FN(tile)(p, o, b, SQK_GEMM_ROWS, 1, kind, mode);
            }
        }
    } else {
        for (; o + SQK_GEMV_ROWS <= o1; o += SQK_GEMV_ROWS) {
            for (long b = 0; b < batch; b++) SQK_FN(tile)(p, o, b, SQK_GEMV_ROWS, 1, kind, mode);
        }
    }
    for (; o < o1; o++) {
        for (long b = 0; b < batch; b++) SQK_FN(tile)(p, o, b, 1, 1, kind, mode);
    }
}

/// One entry per variant: picks the specialised loop for the weight kind and scaling path.
void SQK_FN(matmul_rows)(const sqk_matmul *p, long o0, long o1) {
    const int group = p->scale_kind == SQK_SCALES_GROUP;
    const int mode = !group ? SQK_MODE_PLAIN
        : p->group_size % 16 != 0 ? SQK_MODE_GROUPANY
        : p->group_size < 64 ? SQK_MODE_GROUPCHUNK : SQK_MODE_GROUP16;
    if (p->weight_kind == SQK_WEIGHTS_I8) {
        switch (mode) {
        case SQK_MODE_PLAIN: SQK_FN(rows_for)(p, o0, o1, SQK_WEIGHTS_I8, SQK_MODE_PLAIN); break;
        case SQK_MODE_GROUP16: SQK_FN(rows_for)(p, o0, o1, SQK_WEIGHTS_I8, SQK_MODE_GROUP16); break;
        case SQK_MODE_GROUPCHUNK: SQK_FN(rows_for)(p, o0, o1, SQK_WEIGHTS_I8, SQK_MODE_GROUPCHUNK); break;
        default: SQK_FN(rows_for)(p, o0, o1, SQK_WEIGHTS_I8, SQK_MODE_GROUPANY); break;
        }
    } else {
        SQK_FN(rows_for)(p, o0, o1, SQK_WEIGHTS_F32, SQK_MODE_PLAIN);
    }
}
