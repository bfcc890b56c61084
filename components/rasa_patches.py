"""Every replacement of a Rasa internal, in one list, put in place by one call: `apply()`.

components/__init__.py makes that call: Rasa imports the package when it loads the model's
components (to train, serve or test), which is the start-up hook Rasa gives a project. `apply()`
refuses, with an error naming each problem, on a Rasa version other than the one the replacements
were written and measured against, or when a replaced object's source differs from what it was
then (its fingerprint, a hash of the source): an upgrade must fail loudly, not run a replacement
over changed code. After an upgrade, re-measure each one, then update RASA_VERSION and the
fingerprints (`python -m components.rasa_patches` prints the current ones).

What each replacement is for is in its module's docstring; tests/test_rasa_patches.py and the
modules' own tests show each behaves as Rasa's does, and fail without it.
"""
from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field
from typing import Any, List, Sequence

import rasa
import rasa.core.actions.action as rasa_actions
from rasa.core.processor import MessageProcessor
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import Event
from rasa.utils.endpoints import EndpointConfig

from botox_clinic.settings import get_settings
from components import (
    conversation_hold,
    conversation_language,
    in_process_actions,
    message_parts,
    parse_in_thread,
    session_start,
    upstream_fixes,
)

RASA_VERSION = "3.6.21"


def fingerprint(obj: Any) -> str:
    """First 16 hex digits of the SHA-256 of an object's source (a staticmethod's function's), or of
    its repr for a value such as a number."""
    if isinstance(obj, staticmethod):
        obj = obj.__func__
    try:
        source = inspect.getsource(obj)
    except TypeError:
        source = repr(obj)
    return hashlib.sha256(source.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Patch:
    owner: Any  # a class or module of Rasa's
    name: str
    replacement: Any
    fingerprint: str  # of the replaced object, as measured
    why: str
    # Rasa's own object, taken before anything is replaced (this module never replaces on import).
    original: Any = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "original", inspect.getattr_static(self.owner, self.name))

    @property
    def target(self) -> str:
        return f"{getattr(self.owner, '__qualname__', self.owner.__name__)}.{self.name}"


PATCHES = (
    Patch(rasa_actions.RemoteAction, "_validate_action_result", upstream_fixes.validate_action_result,
          "f8cdb4be68123961", "a validator built once, not Rasa's schema re-checked on every custom action"),
    Patch(Event, "resolve_by_type", staticmethod(upstream_fixes.resolve_by_type),
          "b5cf570fa7f286c7", "event classes remembered by type name"),
    Patch(EndpointConfig, "session", upstream_fixes.kept_session,
          "e55aa13d9d4fb4bc", "one kept HTTP session to the action server per endpoint and event loop"),
    Patch(DaskGraphRunner, "run", upstream_fixes.run_graph,
          "45f0f52f574f3aa9", "the model graph run in an order worked out once, not through dask"),
    Patch(MessageProcessor, "parse_message", parse_in_thread.parse_message,
          "b98d8e49b9f2c433", "messages parsed on a thread of their own, off the event loop"),
    Patch(rasa_actions, "ActionSessionStart", session_start.ClinicSessionStart,
          "463cd4ab7c977339", "the conversation start run inside the Rasa server"),
    Patch(rasa_actions, "action_for_name_or_text", in_process_actions.action_lookup(rasa_actions.action_for_name_or_text),
          "a63fb2d066efa0bc", "the red-flag escalation, the handoff request and the clinic's details run inside the "
          "Rasa server, never waiting on the action server"),
    Patch(MessageProcessor, "_run_prediction_loop",
          conversation_language.prediction_loop(conversation_hold.prediction_loop(MessageProcessor._run_prediction_loop)),
          "cb30a0cbb690c571", "the conversation's language brought up to date with each message; no answers in a "
          "conversation a clinician holds, except a red flag's escalation"),
    Patch(MessageProcessor, "handle_message", message_parts.handle_message(MessageProcessor.handle_message),
          "0c41d4780d2d4676", "more than one question in a message answered part by part"),
    Patch(rasa_actions, "DEFAULT_REQUEST_TIMEOUT", get_settings().action_timeout_seconds,
          "983bd614bb5afece", "a custom action waits seconds, not Rasa's five minutes, for a stalled action server"),
)

_applied: List[Patch] = []


def problems(patches: Sequence[Patch] = PATCHES, version: str = rasa.__version__) -> List[str]:
    """Why the replacements cannot be applied to this Rasa; empty when they can."""
    found = [] if version == RASA_VERSION else [f"Rasa {version} is installed; the replacements are for {RASA_VERSION}"]
    for patch in patches:
        measured = fingerprint(patch.original)
        if measured != patch.fingerprint:
            found.append(f"{patch.target} has changed (fingerprint {measured}, expected {patch.fingerprint})")
    return found


def apply(patches: Sequence[Patch] = PATCHES) -> None:
    """Put every replacement in place, once per process; raises RuntimeError if any cannot be."""
    if _applied:
        return
    found = problems(patches)
    if found:
        raise RuntimeError("Refusing to patch Rasa (components/rasa_patches.py): " + "; ".join(found))
    for patch in patches:
        setattr(patch.owner, patch.name, patch.replacement)
        _applied.append(patch)


def applied() -> List[Patch]:
    return list(_applied)


if __name__ == "__main__":
    # Run as a script this module is a second copy, made after the package applied the first: its
    # PATCHES took our replacements as the originals. The package's copy holds Rasa's.
    from components import rasa_patches as package_copy

    for patch in package_copy.PATCHES:
        print(f"{patch.target}: {fingerprint(patch.original)}")
