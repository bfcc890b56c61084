"""Our Rasa components: NLU pipeline steps, the tracker store, and the conversation start. Importing
the package (as the server does to load any of them) applies upstream_fixes, moves message parsing
off the event loop, and puts our action_session_start in place of Rasa's built-in one."""
from components import parse_in_thread, session_start, upstream_fixes  # noqa: F401
