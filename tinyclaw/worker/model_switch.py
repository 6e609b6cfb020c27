"""``/model`` reaching a claude run that is already working.

The chat's choice is stored by :class:`~tinyclaw.worker.model_choice.ModelChoices`
and applies to every later run. A live claude run can also switch at once (claude's
``set_model`` control request): while such a run is open, it has a :class:`ModelBox`
here, keyed by actor and conversation; ``/model`` drops the new name into the boxes of
that chat's running runs and the run's controls take it between output lines.

The boxes live in memory only, on purpose: the ``/model`` command is answered by the
same worker process that runs the CLI, and a crash ends the run anyway; its rerun
starts with ``--model`` from the stored choice, so nothing is lost.
"""

from __future__ import annotations

import threading


class ModelBox:
    """The model switched to for one running run, until the run takes it."""

    def __init__(self, actor: str, conversation: str) -> None:
        self.actor = actor
        self.conversation = conversation
        self._lock = threading.Lock()
        self._model: str | None = None

    def put(self, model: str) -> None:
        with self._lock:
            self._model = model  # two switches before the run looks: the last one counts

    def take(self) -> str | None:
        with self._lock:
            model, self._model = self._model, None
            return model


class ModelSwitches:
    """The boxes of the runs that can switch models live; thread-safe (runs open and
    close them on their threads, ``/model`` switches from the command handler)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[ModelBox] = []

    def open(self, actor: str, conversation: str) -> ModelBox:
        box = ModelBox(actor, conversation)
        with self._lock:
            self._open.append(box)
        return box

    def close(self, box: ModelBox) -> None:
        with self._lock:
            if box in self._open:
                self._open.remove(box)

    def switch(self, actor: str, conversation: str, model: str) -> bool:
        """Hand ``model`` to ``actor``'s running runs of ``conversation``; True if
        there was one."""
        with self._lock:
            boxes = [b for b in self._open if (b.actor, b.conversation) == (actor, conversation)]
        for box in boxes:
            box.put(model)
        return bool(boxes)
