"""The actions the Rasa server runs itself instead of the action server or a plain response, by
name: Rasa's action lookup (`action_for_name_or_text`) answers these names with ours
(components/rasa_patches.py puts it in place). Rasa has no setting for an in-process action.

- action_escalate_red_flag (components/escalation.py): a red-flag reply never waits on the action
  server;
- utter_human (components/handoff_request.py): "can I talk to a person?" answered by the time of
  day. It keeps the response's name, so the rules and stories trained on it are unchanged.
- utter_clinic_contact, utter_clinic_location, utter_clinic_hours, utter_booking
  (components/clinic_details.py): the clinic's details from clinic/settings.yml, the same way.
"""
from __future__ import annotations

from rasa.core.actions.action import Action
from rasa.shared.core.domain import Domain

from components import clinic_details, escalation, handoff_request

IN_PROCESS = {escalation.NAME: escalation.EscalateRedFlag, handoff_request.NAME: handoff_request.RequestHuman,
              **clinic_details.actions()}


def action_lookup(rasa_lookup):
    """Rasa's `action_for_name_or_text`, answering IN_PROCESS's names with our actions."""
    def lookup(action_name_or_text: str, domain: Domain, action_endpoint) -> Action:
        ours = IN_PROCESS.get(action_name_or_text)
        return ours() if ours else rasa_lookup(action_name_or_text, domain, action_endpoint)

    return lookup
