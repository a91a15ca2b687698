"""On-device crop-disease inference: preprocessing, interpreter, image sources, cameras."""
