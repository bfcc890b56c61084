"""Our Rasa components: NLU pipeline steps, the tracker store, the conversation start, and the
replacements of Rasa internals. Rasa imports this package when it loads any of them (to train,
serve or test), so this is where the replacements are put in place: one explicit call, which
refuses a Rasa version they were not measured against (components/rasa_patches.py)."""
from components import rasa_patches

rasa_patches.apply()
