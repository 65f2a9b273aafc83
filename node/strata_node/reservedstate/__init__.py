"""Reserved state: cluster state that only a versioned source (the file settings) may
change, and the REST refusal of changes to the keys it reserved."""
