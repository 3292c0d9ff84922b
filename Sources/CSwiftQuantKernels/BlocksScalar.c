// The block kernels without vector extensions beyond the platform baseline (SSE2 on x86-64,
// NEON on arm64, which the compiler may use for these loops).
#pragma STDC FP_CONTRACT OFF
#include "CSwiftQuantKernels.h"
#include "BlockTable.h"
#define SQK_BLOCK_FN(name) sqk_scalar_block_##name
#include "BlockKernel.h"
