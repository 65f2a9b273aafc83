"""Task management: every action a node runs is a task with an id, a parent, headers and
a cancellation flag (Elasticsearch's TaskManager, Task and CancellableTask).

  task.py       TaskId and Task: what one running action is and how it reports itself
  manager.py    TaskManager: registration, listing, cancellation of a subtree, bans
  running.py    cooperative cancellation of work on executor threads
"""
