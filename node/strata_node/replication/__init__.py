"""Primary-backup replication: the primary's replication tracker, the replica write path
and peer recovery."""
