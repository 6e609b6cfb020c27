"""Helpers the test folders share, imported as ``tests.support.<module>``.

Fixtures live in ``conftest.py`` files, where pytest finds them; everything a test
module imports lives here:

* ``paths``: the checkout (``REPO``) and the fake claude CLI (``FAKE_CLI``);
* ``waiting``: the one wait-until, ``wait_for`` (sync) and ``until`` (async);
* ``messages``: the one message factory, and readers of what the queue holds;
* ``worker``: a home's config on the fake CLI, the worker in a thread or a process;
* ``services``: the worker as ``tinyclaw worker`` builds it (schedules, outboxes),
  a clock the test moves, and readers of replies, failures and events;
* ``commands``: the ``tinyclaw`` command as a user runs it;
* ``teams``: team configurations and readers of a team's conversation;
* ``channels``: the chat users of the stories and a recording ``sleep``;
* ``launcher``: a private tmux server and the launcher's component states;
* ``outbox``: files an actor drops into its outbox.
"""
