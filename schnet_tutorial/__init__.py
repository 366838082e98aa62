"""The SchNet tutorial: script1 data, script2 training, script3 MD; ``tools`` holds what they share."""
