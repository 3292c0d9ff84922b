// The streaming converter and the checkpoint, GGUF and safetensors writers live here.
