"""Our Rasa components: NLU pipeline steps, the tracker store, and the conversation start. Importing
the package (as the server does to load any of them) applies upstream_fixes and puts our
action_session_start in place of Rasa's built-in one."""
from components import session_start, upstream_fixes  # noqa: F401
