// The portable W8A8 kernels (activation quantization and the packed product), written once in
// plain C and included by W8A8Packed.c under each instruction set's target attributes, with
// SQK_W8_FN(name) naming the variant. Integer sums are exact and the Float32 steps are the same
// separate operations in every variant, so all give the same numbers bit for bit.

long SQK_W8_FN(quantize_rows)(const float *input, long columns, long group, uint8_t *codes, float *scales,
                              long r0, long r1) {
    const long padded = (columns + 3) / 4 * 4;
    if (group <= 0 || group > columns) group = columns;
    const long groups = (columns + group - 1) / group;
    for (long r = r0; r < r1; r++) {
        const float *row = input + r * columns;
        uint8_t *row_codes = codes + r * padded;
        for (long g = 0; g < groups; g++) {
            const long begin = g * group, count = columns - begin < group ? columns - begin : group;
            const float *x = row + begin;
            uint8_t *q = row_codes + begin;
            float maximum = 0;
            int bad = 0;
            for (long k = 0; k < count; k++) {
                const float a = fabsf(x[k]);
                bad |= !(a <= FLT_MAX);
                maximum = a > maximum ? a : maximum;
            }
            if (bad) return r;
            float scale = maximum / 127.0f;
            if (scale == 0) scale = 1;
            scales[r * groups + g] = scale;
            for (long k = 0; k < count; k++) {
                float v = x[k] / scale;
                v = v < 127.0f ? v : 127.0f;
                v = v > -128.0f ? v : -128.0f;
                q[k] = (uint8_t)((int32_t)rintf(v) + 128);
            }
        }
        for (long k = columns; k < padded; k++) row_codes[k] = 128;
    }
    return -1;
}

/// One panel with per-group activation scales: each group's exact int32 sums, then one fused
/// multiply-add per group into the Float32 sum.
static void SQK_W8_FN(grouped_panel)(const sqk_w8a8_packed_product *p, long panel, const int8_t *w, long o0, long width) {
    const long steps = (p->in_features + 3) / 4, padded = steps * 4;
    const long group_steps = p->group_size / 4, groups = (steps + group_steps - 1) / group_steps;
    const long sums_stride = (p->out_features + SQK_W8A8_PANEL - 1) / SQK_W8A8_PANEL * SQK_W8A8_PANEL;
    for (long b = 0; b < p->batch; b++) {
        const uint8_t *x = p->input + b * padded;
        float total[SQK_W8A8_PANEL] = {0};
        for (long g = 0; g < groups; g++) {
            const long s1 = (g + 1) * group_steps < steps ? (g + 1) * group_steps : steps;
            int32_t acc[SQK_W8A8_PANEL];
            for (int c = 0; c < SQK_W8A8_PANEL; c++) acc[c] = -128 * p->group_sums[g * sums_stride + o0 + c];
            for (long s = g * group_steps; s < s1; s++) {
                for (int c = 0; c < SQK_W8A8_PANEL; c++) {
                    int32_t sum = 0;
                    for (int i = 0; i < 4; i++) sum += (int32_t)x[4 * s + i] * (int32_t)w[s * 64 + c * 4 + i];
                    acc[c] += sum;
                }
            }
            const float scale = p->input_scales[b * groups + g];
            for (int c = 0; c < SQK_W8A8_PANEL; c++) total[c] = fmaf((float)acc[c], scale, total[c]);
        }
        for (long c = 0; c < width; c++) {
            float y = total[c] * (p->scale_kind == SQK_SCALES_ROW ? p->weight_scales[o0 + c] : p->tensor_scale);
            if (p->bias) y = y + p->bias[o0 + c];
            p->output[b * p->out_features + o0 + c] = y;
        }
    }
}

void SQK_W8_FN(packed_panels)(const sqk_w8a8_packed_product *p, long panel0, long panel1) {
    const long steps = (p->in_features + 3) / 4, padded = steps * 4;
    for (long panel = panel0; panel < panel1; panel++) {
        const int8_t *w = p->packed + panel * steps * 64;
        const long o0 = panel * SQK_W8A8_PANEL;
        const long width = p->out_features - o0 < SQK_W8A8_PANEL ? p->out_features - o0 : SQK_W8A8_PANEL;
        if (p->group_size > 0) {
            SQK_W8_FN(grouped_panel)(p, panel, w, o0, width);
            continue;
        }
        for (long b = 0; b < p->batch; b++) {
            const uint8_t *x = p->input + b * padded;
            int32_t acc[SQK_W8A8_PANEL] = {0};
            for (long s = 0; s < steps; s++) {
                for (int c = 0; c < SQK_W8A8_PANEL; c++) {
                    int32_t sum = 0;
                    for (int i = 0; i < 4; i++) sum += (int32_t)x[4 * s + i] * (int32_t)w[s * 64 + c * 4 + i];
                    acc[c] += sum;
                }
            }
            for (long c = 0; c < width; c++) {
                p->output[b * p->out_features + o0 + c] =
                    sqk_w8a8_packed_finish(p, o0 + c, b, acc[c] - 128 * p->column_sums[o0 + c]);
            }
        }
    }
}
