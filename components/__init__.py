"""Our Rasa components: NLU pipeline steps and the tracker store. Importing the package (as the
server does to load any of them) applies upstream_fixes."""
from components import upstream_fixes  # noqa: F401
