"""``tinyclaw pair``: the owner's side of pairing, from a terminal on the host.

Whoever can run this command can read the home, so it acts as an owner (``by=None``).
Every failure is one line on stderr and exit code 1. Tables are drawn with rich on a
terminal and printed as plain aligned columns otherwise, so the output can be piped.

Mount it with :func:`register`. The service that approves a request tells the sender
through a notifier: by default :func:`tinyclaw.pairing.notices.queue_notifier`, which
writes the notice into ``queue/outgoing/<channel>/`` addressed to the chat the sender
asked from (the listener recorded it with the request) for the listener to deliver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tinyclaw.cli.context import clean_errors, home_from, load
from tinyclaw.cli.jsonout import JsonOption, emit
from tinyclaw.config import Config
from tinyclaw.core.errors import PairingError
from tinyclaw.core.home import Home
from tinyclaw.pairing import Identity, Notify, PairingService, pairing_service
from tinyclaw.pairing.models import Role
from tinyclaw.pairing.notices import queue_notifier
from tinyclaw.pairing.texts import ago, in_words
from tinyclaw.schedule.durations import parse_duration

pair_app = typer.Typer(
    name="pair",
    help="Who may talk to the assistant: requests, invites, profiles.",
    no_args_is_help=True,
    add_completion=False,
)

NotifierFactory = Callable[[Home], Notify]
_NOTIFIER = "tinyclaw.pair.notifier"


def register(app: typer.Typer, notifier: NotifierFactory | None = queue_notifier) -> None:
    """Mount ``pair`` on the main app; ``notifier(home)`` tells approved senders (None:
    nobody is told, and ``approve`` prints the notice for the owner to pass on).

    The factory travels in the click context of each invocation (set by the group
    callback below), not in a module global, so two apps mounting ``pair`` differently
    (the real one and a test's) never see each other's notifier.
    """

    def mount(ctx: typer.Context) -> None:
        ctx.meta[_NOTIFIER] = notifier

    app.add_typer(pair_app, name="pair", callback=mount, help=pair_app.info.help)


class _Ctx:
    """What every command needs: the home, its config (None without a tinyclaw.toml)
    and the service built from them."""

    def __init__(self, ctx: typer.Context) -> None:
        self.home = home_from(ctx)
        # Pairing works before the home is configured (no owners or allow-lists then).
        self.config: Config | None = load(self.home) if self.home.config_file.exists() else None
        factory: NotifierFactory | None = ctx.meta.get(_NOTIFIER)
        notify = factory(self.home) if factory is not None else None
        self.service: PairingService = pairing_service(self.home, self.config, notify=notify)

    def check_actors(self, actors: Sequence[str]) -> None:
        if self.config is None:
            return
        known = set(self.config.actors) | set(self.config.teams)
        unknown = [a for a in actors if a not in known]
        if unknown:
            raise PairingError(
                f"unknown actor(s) {', '.join(unknown)} (defined: {', '.join(sorted(known))})"
            )


def _actor_list(text: str | None) -> list[str]:
    return [a.strip() for a in (text or "").split(",") if a.strip()]


def _print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    console = Console()
    if console.is_terminal:
        table = Table(title=title, title_justify="left")
        for header in headers:
            table.add_column(header)
        for row in rows:  # Text(): names and labels from chat apps are never markup
            table.add_row(*(Text(cell) for cell in row))
        console.print(table)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in (headers, *rows):
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _role(text: str | None) -> Role | None:
    if text is None:
        return None
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise PairingError(f"{text!r} is not a role: use owner or user") from None


def _ago(then: datetime, now: datetime) -> str:
    return ago(now - then)


@pair_app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show paired profiles, the owners from tinyclaw.toml and open invites."""
    with clean_errors():
        c = _Ctx(ctx)
        profiles = c.service.profiles()
        invites = c.service.invites()
    if as_json:
        emit(
            {
                "profiles": [
                    {
                        "name": p.name,
                        "role": p.role.value,
                        "actors": list(p.actors),
                        "identities": list(p.identities),
                        "label": p.label,
                        "created_at": p.created_at,
                    }
                    for p in profiles
                ],
                "owners": sorted(map(str, c.service.owners)),
                "allow_from": sorted(map(str, c.service.static_allow)),
                "open_invites": len(invites),
            }
        )
        return
    if profiles:
        rows = [
            [
                p.name,
                p.role.value,
                ", ".join(p.actors) or "all",
                " ".join(p.identities),
                p.label,
            ]
            for p in profiles
        ]
        _print_table("Profiles", ["PROFILE", "ROLE", "ACTORS", "IDENTITIES", "NAME"], rows)
    else:
        typer.echo("No paired profiles yet (tinyclaw pair invite makes a code).")
    if c.service.owners:
        typer.echo("Owners from tinyclaw.toml: " + " ".join(sorted(map(str, c.service.owners))))
    if c.service.static_allow:
        allowed = " ".join(sorted(map(str, c.service.static_allow)))
        typer.echo(f"Allowed by allow_from in tinyclaw.toml: {allowed}")
    if invites:
        typer.echo(f"Open invites: {len(invites)} (codes are shown only when made)")


@pair_app.command()
def pending(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show requests waiting for approval (approve them with the code the sender gives you)."""
    with clean_errors():
        c = _Ctx(ctx)
        requests = c.service.pending()
    if as_json:
        emit(
            {
                "requests": [
                    {
                        "identity": r.identity,
                        "name": r.display_name,
                        "asked_at": r.created_at,
                        "expires_at": r.expires_at,
                    }
                    for r in requests
                ]
            }
        )
        return
    if not requests:
        typer.echo("No pending requests.")
        return
    now = c.service.now()
    rows = [
        [r.identity, r.display_name, _ago(r.created_at, now), in_words(r.expires_at - now)]
        for r in requests
    ]
    _print_table("Pending requests", ["IDENTITY", "NAME", "ASKED", "EXPIRES IN"], rows)


@pair_app.command()
def approve(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="the code the sender was given, e.g. KQ7M-T4XA"),
    profile: str | None = typer.Option(None, help="put them into this profile (new or existing)"),
    actors: str | None = typer.Option(
        None, help="comma-separated actors they may use (default all)"
    ),
) -> None:
    """Let in the sender who was given CODE."""
    with clean_errors():
        c = _Ctx(ctx)
        actor_list = _actor_list(actors)
        c.check_actors(actor_list)
        approval = c.service.approve(code, profile=profile, actors=actor_list)
    typer.echo(f"Approved {approval.identity} as profile {approval.profile.name}.")
    if approval.notified:
        typer.echo(
            f"They are told in their chat once the {approval.identity.channel} listener runs."
        )
    else:
        typer.echo(f"They were not told automatically; let them know: {approval.notice}")


@pair_app.command()
def deny(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="the request's code, or the sender (channel:user_id)"),
) -> None:
    """Refuse a pending request; the sender gets no new code for a day."""
    with clean_errors():
        ident = _Ctx(ctx).service.deny(target)
    typer.echo(f"Denied the request of {ident}.")


@pair_app.command()
def revoke(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="an identity (channel:user_id) or a profile name"),
) -> None:
    """Remove an identity or a whole profile; their next message is refused."""
    with clean_errors():
        c = _Ctx(ctx)
        removed = c.service.revoke(target)
    typer.echo("Revoked: " + (" ".join(map(str, removed)) or "(a profile with no accounts)"))
    for ident in removed:
        if ident in c.service.owners or ident in c.service.static_allow:
            typer.echo(f"Note: {ident} is still allowed by tinyclaw.toml; remove it there too.")


@pair_app.command()
def invite(
    ctx: typer.Context,
    profile: str | None = typer.Option(
        None, help="profile to join: an existing one links a new account to that person"
    ),
    actors: str | None = typer.Option(None, help="comma-separated actors (default all)"),
    ttl: str | None = typer.Option(None, help="how long the code lives, e.g. 15m, 1h, 2d"),
    owner: bool = typer.Option(False, "--owner", help="the new profile is an owner"),
) -> None:
    """Make a one-time invite code; the new user sends /pair CODE in any chat app."""
    with clean_errors():
        c = _Ctx(ctx)
        actor_list = _actor_list(actors)
        c.check_actors(actor_list)
        lifetime = parse_duration(ttl) if ttl is not None else c.service.code_ttl
        code = c.service.invite(profile=profile, actors=actor_list, ttl=lifetime, owner=owner)
    typer.echo(code)
    typer.echo(
        f"Single use, valid for {in_words(lifetime)}. The new user sends: /pair {code}",
        err=True,
    )


@pair_app.command()
def link(
    ctx: typer.Context,
    profile: str = typer.Argument(..., help="an existing profile"),
    identity: str = typer.Argument(..., help="the account to add, channel:user_id"),
) -> None:
    """Add another account (e.g. their Discord id) to an existing profile."""
    with clean_errors():
        joined = _Ctx(ctx).service.link(profile, Identity.parse(identity))
    typer.echo(f"Profile {joined.name}: {' '.join(joined.identities)}")


@pair_app.command("profile")
def profile_(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="an existing profile (see tinyclaw pair list)"),
    role: str | None = typer.Option(None, help="owner or user"),
    actors: str | None = typer.Option(
        None, help='comma-separated actors they may use; "" for all of them'
    ),
) -> None:
    """Change a profile's role or actors; counts from their next message."""
    with clean_errors():
        c = _Ctx(ctx)
        actor_list = _actor_list(actors) if actors is not None else None
        c.check_actors(actor_list or [])
        changed = c.service.update_profile(name, role=_role(role), actors=actor_list)
        profiles = c.service.profiles()
    typer.echo(
        f"Profile {changed.name}: role {changed.role.value}, "
        f"actors {', '.join(changed.actors) or 'all'}"
    )
    if not c.service.owners and not any(p.role is Role.OWNER for p in profiles):
        typer.echo(
            "Note: no owner is left to approve from chat; tinyclaw pair on this host "
            "still works, and tinyclaw pair profile NAME --role owner makes one again."
        )
