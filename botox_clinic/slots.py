"""Names of the slots (domain.yml) that more than one process reads or writes."""

TREATMENT_TYPE = "treatment_type"
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
