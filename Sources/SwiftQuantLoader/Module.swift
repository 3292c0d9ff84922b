// QuantizedLinear and the int8 inference kernels live here.
