"""Crop-disease model: training, int8 export, evaluation, and the shipped model files."""
