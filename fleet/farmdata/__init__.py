"""A farm's own data: export it whole (:mod:`.export`), erase it (:mod:`.erase`), keep it by
the farm's policy (:mod:`.policy`), and turn its confirmed photos into a training set it
consents to (:mod:`.training_set`)."""
