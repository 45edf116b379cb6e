"""IMHN (Simple Pose) training, export and int8 quantization for edgepose."""
