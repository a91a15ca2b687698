"""Running a crop-disease model: the interpreter, the one preprocessing, the classifier.

Shared by the node (cameras), the fleet (package checks, scouting photos) and the trainer, so it
lives on the ground floor; numpy, Pillow and the interpreter are imported by its modules only.
"""
