"""The part of an actor's persona that teaches its CLI to speak first and to schedule.

The CLIs have no tool of ours; they have a Write tool. So the two file formats an
actor may use on its own initiative (an outbox message, a job for itself) are
explained in the persona file the CLI reads (``CLAUDE.md`` / ``AGENTS.md``), with
this actor's real folders and the chats it may write to filled in, so that the model
needs no guessing and the files it writes pass the checks. The text is generated from
the same constants the checks use, so the two cannot drift apart.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tinyclaw.core import MAX_TEXT, ConfigError, format_duration
from tinyclaw.drops import SETTLE_SECONDS
from tinyclaw.outbox import FOLDER as OUTBOX_FOLDER
from tinyclaw.outbox import MAX_ATTACHMENT_BYTES, MAX_FILES
from tinyclaw.schedule import FOLDER as SCHEDULES_FOLDER
from tinyclaw.schedule import (
    HEARTBEAT_OK,
    MAX_ACTOR_JOBS,
    MAX_PROMPT,
    JobStore,
    check_interval,
    heartbeat_files,
    reachable_targets,
)

if TYPE_CHECKING:
    from tinyclaw.config import Config
    from tinyclaw.core import Home

log = logging.getLogger("tinyclaw.actors")


def _targets_text(targets: list[str]) -> str:
    if not targets:
        return (
            "You have no chat you may write to first: every outbox message and every "
            "schedule of your own is refused until the operator sets `owner_chat` or "
            "`may_message` for you."
        )
    listed = ", ".join(f"`{target}`" for target in targets)
    return (
        f"The chats you may write to first: {listed}. Leaving `to` out means "
        f"`{targets[0]}`. Any other chat is refused."
    )


def _heartbeat_text(home: Home, config: Config, actor: str) -> str:
    settings = config.actors[actor].heartbeat
    if settings is None:
        return ""
    try:
        every = format_duration(check_interval(settings.every))
    except ConfigError:  # a broken setting is reported by `tinyclaw status`, not here
        every = settings.every
    hours = f" between {settings.active_hours} (local time)" if settings.active_hours else ""
    first, second = heartbeat_files(home, config, actor)
    return f"""
### Heartbeat

Every {every}{hours} you are sent the checklist in `{first}` (or, if that does not
exist, `{second}`, which you may edit yourself), in a conversation of its own. If
nothing needs the user's attention, reply with exactly `{HEARTBEAT_OK}` and nothing
else: then nothing is sent. Otherwise reply with a short message for the user; it is
sent as it is.
"""


def _repeat_text(config: Config, what: str) -> str:
    """The dedupe window in the model's words (nothing when it is off)."""
    seconds = round(config.worker.dedupe_window)
    if seconds <= 0:
        return ""
    minutes, rest = divmod(seconds, 60)
    window = f"{minutes} minutes" if minutes > 1 and not rest else f"{seconds} seconds"
    if what == "message":
        return (
            f"\nWriting the same message to the same chat again within {window} sends\n"
            "nothing more, so if a write seems to have failed, writing it again is safe."
        )
    return f"\nThe same job written again within {window} makes no second job."


def make_drop_folders(home: Home, config: Config) -> None:
    """Make every actor's ``outbox/`` and ``schedules/`` folder, the ones this guide
    names: an actor may write into them in its very first run, which may start before
    the services that read them are built. A folder that cannot be made is said in
    the log; the services say so again and serve the rest."""
    for name in (OUTBOX_FOLDER, SCHEDULES_FOLDER):
        for actor, folder in config.actor_folders(home, name).items():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                log.warning("cannot create the %s folder of @%s: %s", name, actor, exc)


def persona_section(home: Home, config: Config, actor: str) -> str:
    """Markdown for ``actor``'s persona file: the outbox and self-scheduling formats,
    with its folders and allowed chats, plus its heartbeat if it has one."""
    workspace = config.workspace_for(home, actor)
    outbox = config.actor_folders(home, OUTBOX_FOLDER)[actor]
    schedules = config.actor_folders(home, SCHEDULES_FOLDER)[actor]
    targets = reachable_targets(config, actor, JobStore.for_home(home).list())
    example_to = targets[0] if targets else "telegram:123456"
    limit_mb = MAX_ATTACHMENT_BYTES // (1024 * 1024)
    return f"""\
## Speaking first and scheduling yourself

Your answers go back to whoever wrote to you; nothing more is needed for them. To
write to someone *without* being asked (a long task finished, an alert), or to have
yourself woken up later, write a JSON file with your normal file-writing tool. The
tinyclaw worker picks it up as soon as it is written.

{_targets_text(targets)}

### Send a message: `{outbox}/`

One file per message, any name ending in `.json`:

```json
{{"to": "{example_to}", "text": "The nightly build failed; the log is attached.", "files": ["logs/build.txt"]}}
```

* `to`: `channel:chat_id`, one of the chats above (optional).
* `text`: the message, plain text, at most {MAX_TEXT:,} characters.
* `files` (optional): at most {MAX_FILES} files from your workspace (`{workspace}`),
  as paths relative to it; at most {limit_mb} MB each. A path or symlink leading
  outside the workspace is refused.
* No other keys: a file with an unknown key is refused as a whole.
* Write the whole file at once (or write `name.tmp`, then rename it to
  `name.json`). A file that is not valid JSON {SETTLE_SECONDS:.0f} seconds after it
  was last written is refused.

A message goes out as soon as the file is written; the file stays in the folder
until your current run is over, then disappears. A refused one disappears too: it
goes to the operator with the reason, and nothing reaches the chat.{_repeat_text(config, "message")}

### Schedule work for yourself: `{schedules}/`

One file per job, any name ending in `.json`; at each run you are sent `prompt`, in a
conversation of its own, and your answer goes to `to`:

```json
{{"every": "2h", "prompt": "Check the issue tracker and report anything urgent."}}
{{"cron": "0 9 * * 1-5", "tz": "Europe/Berlin", "prompt": "Summarise yesterday's commits."}}
{{"at": "2027-03-01T09:00", "tz": "Europe/Berlin", "prompt": "Remind the user of the dentist at 11."}}
```

* Exactly one of `cron` (five fields: minute hour day-of-month month day-of-week),
  `every` (`30m`, `2h`, `1d`, `1h30m`; at least `1m`) or `at` (an ISO date-time in
  the future).
* `tz` (optional): an IANA zone for `cron` and `at`; without it, the machine's zone.
* `to` (optional): one of the chats above.
* `prompt`: what you will be asked, at most {MAX_PROMPT:,} characters.
* At most {MAX_ACTOR_JOBS} live jobs of your own. Missed runs (while tinyclaw was down)
  run once, not once per missed slot.
* Write the whole file at once (or write `name.tmp`, then rename it to
  `name.json`). A file that is not valid JSON {SETTLE_SECONDS:.0f} seconds after it
  was last written is refused.

A valid file becomes a job at once, which the operator sees with `tinyclaw schedule
list` and removes with `tinyclaw schedule rm`; the file disappears when your current
run is over. An invalid one is then moved to `{schedules}/failed/` with a `.reason`
file beside it that says what was wrong; fix it and write a new file.{_repeat_text(config, "job")}
{_heartbeat_text(home, config, actor)}"""
