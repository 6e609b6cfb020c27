"""Teams: actors handing work to each other through their inboxes, crash-safely.

``tags`` reads ``[@member: task]`` out of a reply; ``roster`` says who may address
whom; ``planner`` decides what a result means for its conversation; ``state`` keeps
that on disk; ``coordinator`` runs the steps in a crash-safe order for the worker;
``transcript`` and ``trace`` show people what happened.
"""
