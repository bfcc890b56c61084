"""Names of the slots (domain.yml) that more than one process reads or writes."""

TREATMENT_TYPE = "treatment_type"
# The conversation's language, and what set it (botox_clinic/language.py).
LANGUAGE = "language"
LANGUAGE_SOURCE = "language_source"
# Set only by action_forget_conversation after the patient confirmed; the tracker store
# (components/tracker_store.py) then deletes the conversation instead of saving the turn.
CONVERSATION_DELETED = "conversation_deleted"
WALKTHROUGH_STEP = "walkthrough_step"
ESCALATION_TIER = "escalation_tier"
ESCALATION_RECORDED = "escalation_recorded"
ESCALATION_REFERENCE = "escalation_reference"
# Recorded and delivered to at least one configured target: only then is the patient told that the
# clinic has been alerted.
ESCALATION_NOTIFIED = "escalation_notified"
