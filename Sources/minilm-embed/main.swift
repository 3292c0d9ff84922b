print("minilm-embed is not built yet")
