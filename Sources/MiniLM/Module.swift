// The all-MiniLM-L6-v2 sentence encoder lives here.
