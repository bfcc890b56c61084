"""The inbox page and its actions, the JSON API and the clinic's summary.

Every action is a plain form POST answered by a redirect back to the escalation's card, so the
inbox works without JavaScript; the script only adds the live updates (inbox/live.py).
"""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for

from botox_clinic.clinic_summary import build_summary, summary_csv
from botox_clinic.inbox_store import InboxRefused
from inbox.context import current_inbox, signed_in
from inbox.forms import ActionForm, LoginForm, ReplyForm, ResolveForm

blueprint = Blueprint("inbox", __name__)


@blueprint.get("/")
def index():
    if signed_in() is None:
        return render_template("login.html", form=LoginForm(), next=request.args.get("next"))
    inbox = current_inbox()
    return render_template("inbox.html", items=inbox.store.items(), names=inbox.display_names())


@blueprint.post("/escalations/<escalation_id>/acknowledge")
def acknowledge(escalation_id: str):
    return _change(escalation_id, ActionForm, "Acknowledged.",
                   lambda store, who, _: store.acknowledge(escalation_id, who))


@blueprint.post("/escalations/<escalation_id>/resolve")
def resolve(escalation_id: str):
    return _change(escalation_id, ResolveForm, "Resolved.",
                   lambda store, who, form: store.resolve(escalation_id, who, form.outcome.data, form.note.data or ""))


@blueprint.post("/escalations/<escalation_id>/reply")
def reply(escalation_id: str):
    return _change(escalation_id, ReplyForm, "Reply queued for the patient.",
                   lambda store, who, form: store.reply(escalation_id, who, form.text.data))


@blueprint.post("/escalations/<escalation_id>/hold")
def hold(escalation_id: str):
    return _change(escalation_id, ActionForm, "You hold the conversation: the assistant stays quiet in it.",
                   lambda store, who, _: store.hold_conversation(escalation_id, who))


@blueprint.post("/escalations/<escalation_id>/release")
def release(escalation_id: str):
    return _change(escalation_id, ActionForm, "Conversation closed: the assistant answers again.",
                   lambda store, who, _: store.release_conversation(escalation_id, who))


@blueprint.get("/api/escalations")
def api_escalations():
    return jsonify(escalations=[item.as_dict() for item in current_inbox().store.items()])


@blueprint.get("/summary")
def summary():
    inbox = current_inbox()
    return render_template("summary.html", summary=_summary(), tracker_configured=bool(
        inbox.settings.inbox.tracker_db_url))


@blueprint.get("/summary.csv")
def summary_export():
    return Response(summary_csv(_summary()), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=clinic-summary.csv"})


def _summary():
    inbox = current_inbox()
    return build_summary(inbox.store, inbox.settings.inbox.tracker_db_url, inbox.settings.clinic.timezone)


def _change(escalation_id: str, form_class, done: str, change: Callable):
    form = form_class()
    if form.validate_on_submit():
        try:
            change(current_inbox().store, signed_in().username, form)
            flash(f"{escalation_id}: {done}", "done")
        except InboxRefused as refused:
            flash(f"{escalation_id}: {refused}", "refused")
    else:
        flash(f"{escalation_id}: " + "; ".join(error for errors in form.errors.values() for error in errors), "refused")
    return redirect(url_for("inbox.index", _anchor=escalation_id))
