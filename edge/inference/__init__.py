"""On-device cameras: image sources, camera config, the worker that turns photos into detections."""
