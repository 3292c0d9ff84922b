// Layer-selection rules and the quantization plan live here.
