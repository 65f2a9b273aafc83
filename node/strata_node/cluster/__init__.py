"""The cluster: its state, and the coordination that elects a master and publishes that state."""
