"""``tinyclaw spool move --to nats|file``: a home's queue moves from its files to a
real NATS server and back, with a message in every state (incoming, two inboxes in
order, a claim a stopped worker left, replies waiting, a failure with its reason,
attachments), nothing lost and nothing doubled, even when the move is killed halfway
and run again."""

from __future__ import annotations

import json
import signal
from collections import Counter
from typing import Any

import pytest

from tests.spool.nats_backend import NatsHome
from tests.support.commands import run_tinyclaw
from tests.support.messages import message, reply_to
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tests.support.worker import fake_cli_config, worker_process, write_config
from tests.worker.test_nats_worker import node_home
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Attachment
from tinyclaw.pairing import Identity, KVPairingStore, PairingService
from tinyclaw.runners import KVSessionStore, home_sessions
from tinyclaw.spool import Spool
from tinyclaw.spool.jetstream import JetStreamSpool

pytestmark = pytest.mark.timeout(120)
PHOTO = b"\x89PNG not really, but bytes all the same"


def on_files(home: Home, nats: NatsHome) -> Home:
    """A home on files, with the NATS servers it may move to named already."""
    spool = (
        "# the queue: files for now\n"
        "[spool]\n"
        'backend = "file"  # moved by tinyclaw spool move\n'
        f"servers = {json.dumps(nats.urls)}\n"
        f'stream_prefix = "{nats.prefix}"\n'
    )
    write_config(home, fake_cli_config(extra=spool))
    return home


def fill(home: Home) -> dict[str, Any]:
    """Queue something in every state on the files; what was queued, by state."""
    spool = Spool(home)
    photo = message("what is on this photo?")
    located = spool.save_attachment(photo.id, "photo.png", PHOTO)
    photo = photo.model_copy(
        update={"attachments": [Attachment(path=located, name="photo.png", kind="photo")]}
    )
    spool.put(photo)
    left = spool.put_for("coder", message("a run a stopped worker left"))
    assert spool.claim(left, "coder") is not None
    inboxes = {
        "assistant": [spool.put_for("assistant", message(t)).stem for t in ("first", "second")],
        "coder": [left.stem, spool.put_for("coder", message("and then this")).stem],
    }
    answered = message("answered already", channel="telegram", chat="42")
    spool.put_reply(reply_to(answered, "here is your answer"))
    broken = spool.put_for("assistant", message("this one broke"))
    spool.fail(broken, "the CLI crashed twice")
    return {
        "photo": photo.id,
        "inboxes": inboxes,
        "reply": answered.id,
        "failed": broken.stem,
    }


def files_hold(home: Home) -> dict[str, Any]:
    spool = Spool(home)
    return {
        "incoming": [p.stem for p in spool.list_box(spool.incoming)],
        "inboxes": {
            a: [
                p.stem
                for p in [*spool.list_box(spool.processing(a)), *spool.list_box(spool.inbox(a))]
            ]
            for a in ("assistant", "coder")
        },
        "replies": [p.stem for p in spool.list_box(spool.outgoing("telegram"))],
        "failed": [p.stem for p in spool.list_box(spool.failed)],
    }


def nats_holds(spool: JetStreamSpool) -> dict[str, Any]:
    return {
        "incoming": [spool.load(h).id for h in spool.incoming()],
        "inboxes": {
            a: [spool.load(h).id for h in spool.pending(a)] for a in ("assistant", "coder")
        },
        "replies": [spool.load_reply(h).id for h in spool.replies("telegram")],
        "failed": [key for key, _, _ in spool.failures()],
    }


EMPTY = {"incoming": [], "inboxes": {"assistant": [], "coder": []}, "replies": [], "failed": []}


def backend(home: Home) -> str:
    for line in home.config_file.read_text().splitlines():
        if line.startswith("backend"):
            return line
    raise AssertionError("no backend line")


def test_the_queue_moves_to_nats_and_back_with_every_message_in_its_place(
    home: Home, nats_home: NatsHome
) -> None:
    on_files(home, nats_home)
    queued = fill(home)
    before = files_hold(home)
    assert before["inboxes"] == queued["inboxes"]

    there = run_tinyclaw("spool", "move", "--to", "nats", home=home)

    assert there.returncode == 0, there.stderr
    assert "queue: incoming 1, inbox 4, reply 1, failed 1" in there.stdout
    assert "moved to NATS: 7 copied, 7 removed from the files" in there.stdout
    assert backend(home) == 'backend = "nats"  # moved by tinyclaw spool move'
    assert "# the queue: files for now" in home.config_file.read_text()  # the owner's file
    nats = nats_home.open()
    assert nats_holds(nats) == before
    [photo] = [nats.load(h) for h in nats.incoming()]
    assert photo.attachments[0].path.startswith("nats-object:")
    assert nats.read_attachment(photo.attachments[0].path) == PHOTO
    assert [reason for _, reason, _ in nats.failures()] == ["the CLI crashed twice"]
    assert files_hold(home) == EMPTY
    assert not (home.queue / "files" / queued["photo"]).exists()

    back = run_tinyclaw("spool", "move", "--to", "file", home=home)

    assert back.returncode == 0, back.stderr
    assert "moved to the files: 7 copied, 7 removed from NATS" in back.stdout
    assert backend(home) == 'backend = "file"  # moved by tinyclaw spool move'
    assert files_hold(home) == {**before, "inboxes": queued["inboxes"]}
    assert nats_holds(nats_home.open()) == EMPTY
    spool = Spool(home)
    [photo_file] = spool.list_box(spool.incoming)
    again = spool.load(photo_file)
    assert spool.read_attachment(again.attachments[0].path) == PHOTO
    reason = json.loads((spool.failed / f"{queued['failed']}.json.reason").read_text())
    assert reason["reason"] == "the CLI crashed twice"

    done = run_tinyclaw("spool", "move", "--to", "file", home=home)
    assert done.returncode == 0 and "already on the files; nothing to move" in done.stdout


@pytest.mark.parametrize(
    "crash", ["spool_move.copied", "spool_move.switched", "spool_move.emptied"]
)
def test_a_move_killed_halfway_finishes_when_run_again_and_doubles_nothing(
    home: Home, nats_home: NatsHome, crash: str
) -> None:
    on_files(home, nats_home)
    fill(home)
    before = files_hold(home)

    killed = run_tinyclaw(
        "spool", "move", "--to", "nats", home=home, env={"TINYCLAW_FAILPOINT": crash}
    )
    assert killed.returncode == -signal.SIGKILL
    assert (home.state / "spool-move.json").exists()
    status = run_tinyclaw("status", home=home)
    assert (
        "a move of the queue to nats is not finished: run `tinyclaw spool move --to nats` "
        "before starting anything"
    ) in status.stdout
    other_way = run_tinyclaw("spool", "move", "--to", "file", home=home)
    assert other_way.returncode == 1
    assert "a move to nats is not finished" in other_way.stderr

    again = run_tinyclaw("spool", "move", "--to", "nats", home=home)

    assert again.returncode == 0, again.stderr
    assert "finished the move from the files to NATS" in again.stdout
    assert nats_holds(nats_home.open()) == before  # each once, in order
    assert files_hold(home) == EMPTY
    assert backend(home).startswith('backend = "nats"')
    assert not (home.state / "spool-move.json").exists()
    copies = Counter(key for key, _, _ in nats_home.open().failures())
    assert set(copies.values()) == {1}


def test_a_move_is_refused_while_the_worker_runs(home: Home, nats_home: NatsHome) -> None:
    on_files(home, nats_home)
    with worker_process(home) as worker:
        wait_for(lambda: (home.state / "worker.lock").exists(), what="the worker's lock")
        refused = run_tinyclaw("spool", "move", "--to", "nats", home=home)
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"error: a worker is already running for this home (pid {worker.pid})")
    assert backend(home).startswith('backend = "file"')


def test_a_move_into_a_queue_that_is_not_empty_is_refused(home: Home, nats_home: NatsHome) -> None:
    on_files(home, nats_home)
    fill(home)
    nats_home.open().put(message("already on NATS"))
    refused = run_tinyclaw("spool", "move", "--to", "nats", home=home)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "error: NATS already hold a queue (incoming 1); a move needs an empty target "
        "(empty it, or move the other way)"
    )
    assert files_hold(home)["inboxes"]["assistant"]  # nothing moved


def test_a_move_off_nats_is_refused_while_a_worker_on_another_machine_runs_a_message(
    home: Home, nats_home: NatsHome
) -> None:
    on_files(home, nats_home)
    assert run_tinyclaw("spool", "move", "--to", "nats", home=home).returncode == 0
    elsewhere = nats_home.open()
    elsewhere.put_for("coder", message("running on box-b"))
    assert elsewhere.claim(next(elsewhere.pending("coder")), "coder") is not None
    refused = run_tinyclaw("spool", "move", "--to", "file", home=home)
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"error: a worker ({elsewhere.holder}) is running a message of @coder")
    assert line.endswith("stop them on every machine before moving the queue")
    assert backend(home).startswith('backend = "nats"')


def test_a_move_to_nats_servers_that_do_not_answer_is_one_line_and_moves_nothing(
    home: Home,
) -> None:
    dead = NatsHome([])
    on_files(home, dead)
    text = home.config_file.read_text().replace(
        "servers = []", f'servers = ["nats://127.0.0.1:{free_port()}"]\ntimeout = 1'
    )
    home.config_file.write_text(text)
    queued = fill(home)
    refused = run_tinyclaw("spool", "move", "--to", "nats", home=home)
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: ") and "127.0.0.1" in line
    assert files_hold(home)["inboxes"] == queued["inboxes"]
    assert backend(home).startswith('backend = "file"')


def test_the_switch_goes_where_the_backend_is_set_tinyclaw_local_toml_if_it_sets_it(
    home: Home, nats_home: NatsHome
) -> None:
    on_files(home, nats_home)
    local = home.root / "tinyclaw.local.toml"
    local.write_text('# mine\n[spool]\nbackend = "file"\n')
    moved = run_tinyclaw("spool", "move", "--to", "nats", home=home)
    assert moved.returncode == 0, moved.stderr
    assert 'tinyclaw.local.toml: [spool] backend = "nats"' in moved.stdout
    assert local.read_text() == '# mine\n[spool]\nbackend = "nats"\n'
    assert backend(home).startswith('backend = "file"')  # overridden by the local file


def test_a_move_to_files_that_would_leave_nodes_without_nats_is_refused_before_anything(
    home: Home, nats_home: NatsHome
) -> None:
    node_home(home.root, nats_home)
    nats_home.open().put(message("@coder stays on NATS"))
    refused = run_tinyclaw("spool", "move", "--to", "file", home=home)
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert "nodes" in line, line
    assert len(list(nats_home.open().incoming())) == 1
    assert not (home.state / "spool-move.json").exists()


def test_who_is_paired_and_the_actors_sessions_move_with_the_queue_and_back(
    home: Home, nats_home: NatsHome
) -> None:
    """After the move a paired sender is still let in, an invite handed out before it
    still works, and each actor resumes its conversation; and so after moving back."""
    on_files(home, nats_home)
    pairing = PairingService(home.pairing)
    pairing.redeem(Identity("telegram", "1001"), pairing.invite(profile="alice"))
    code = pairing.invite(profile="carol")
    home_sessions(home).set("assistant", "telegram:1001", "session-of-alice")

    there = run_tinyclaw("spool", "move", "--to", "nats", home=home)

    assert there.returncode == 0, there.stderr
    assert "pairing: profiles 1, requests 0" in there.stdout
    assert "sessions: actors 1" in there.stdout
    assert "moved to NATS: 0 copied, 0 removed from the files" in there.stdout
    assert "copied pairing and sessions to NATS too" in there.stdout
    nats = nats_home.open()
    on_nats = PairingService(KVPairingStore(nats.kv("pairing")))
    assert on_nats.check(Identity("telegram", "1001")).allowed
    assert on_nats.redeem(Identity("telegram", "1002"), code).ok
    assert KVSessionStore(nats.kv("sessions")).get("assistant", "telegram:1001") == (
        "session-of-alice"
    )
    KVSessionStore(nats.kv("sessions")).set("coder", "cli:local", "made-on-nats")

    back = run_tinyclaw("spool", "move", "--to", "file", home=home)

    assert back.returncode == 0, back.stderr
    on_files_again = PairingService(home.pairing)
    assert on_files_again.check(Identity("telegram", "1002")).allowed  # redeemed on NATS
    assert home_sessions(home).get("coder", "cli:local") == "made-on-nats"
