"""The inbox's forms. Each is a Flask-WTF form, so each carries the session's CSRF token (CSRFProtect
checks every POST in any case, forms or not)."""
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from botox_clinic.inbox_store import NOTE_MAX_CHARS, OUTCOMES, REPLY_MAX_CHARS


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ActionForm(FlaskForm):
    """A button with nothing to fill in: acknowledge, take over, close the conversation, log out."""


class ResolveForm(FlaskForm):
    outcome = SelectField("Outcome", choices=[("", "Choose the outcome")] + list(OUTCOMES.items()),
                          validators=[DataRequired(message="choose an outcome")])
    note = TextAreaField("Note", validators=[Length(max=NOTE_MAX_CHARS)])


class ReplyForm(FlaskForm):
    text = TextAreaField("Message to the patient",
                         validators=[DataRequired(message="the reply is empty"), Length(max=REPLY_MAX_CHARS)])
