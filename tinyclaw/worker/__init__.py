"""The worker: routes incoming messages to actors and runs each actor's inbox."""
