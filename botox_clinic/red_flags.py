"""Deterministic red-flag detection: does this message *report* a dangerous symptom, now, in the sender?

The symptom vocabulary and tiers are data (clinic/red_flags.yml). This module
1. turns a message into canonical words with spaCy (tokens, lookup lemmas) plus the file's SMS
   spellings and a one-edit typo correction for symptom words ("swalow" -> "swallow");
2. finds symptom phrases with spaCy's Matcher over those canonical words;
3. decides, for each phrase, whether it is a report or something that only looks like one:
   a question or hypothetical, a negation, someone else's experience, or a past, resolved event.

Off-the-shelf negation scopes treat the "not" in "I can't swallow" as negating the symptom. Here
the inability words are part of the symptom phrase, so only a negation *outside* the phrase (or in
a gap inside it: "breathing is not difficult") negates it. Wherever the rules are unsure, the
phrase counts as a report: a false alarm costs a phone call, a missed one can cost a life.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Container, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import yaml

from botox_clinic.settings import get_settings

# The key of the parse data (a message's NLU result) that carries a message's assessment.
ASSESSMENT_KEY = "red_flag_assessment"

REPORT = "report"
NEGATED = "negated"
QUESTION = "question"
OTHER_PERSON = "other_person"
PAST = "past"

_GAP = "~"
_MAX_GAP = 3
_NEGATION_WINDOW = 3

# Context vocabulary, in canonical (lemmatised, lower-case) form.
_SENTENCE_END = {".", "!", "?", "\n", "…"}
_CLAUSE_BREAK = _SENTENCE_END | {",", ";", ":", "-", "–", "—", "(", ")", "but", "and", "so", "though",
                                 "although", "however", "yet", "because", "plus"}
_NEGATIONS = {"no", "not", "never", "without", "none", "nothing", "zero", "nope", "nor"}
# "not sure", "can't stop choking", "don't know why": the negation is about something else.
_PSEUDO_NEGATED = {"sure", "know", "think", "idea", "stop", "help", "only", "just", "wait", "even",
                   "matter", "seem", "believe", "understand", "want", "like", "care"}
_PRONOUNS_AFTER_INTERJECTION = {"i", "my", "me", "it", "its", "this", "the", "now"}
_FIRST_PERSON = {"i", "me", "my", "mine", "myself"}
# Anyone in general: never a carer's report about a patient in front of them.
_GENERIC_PEOPLE = {"someone", "somebody", "anyone", "anybody", "people", "everyone", "others", "patients",
                   "patient", "person", "one"}
_THIRD_PARTY = _GENERIC_PEOPLE | {"sister", "brother", "mom", "mum", "mother", "dad", "father", "friend", "cousin", "wife",
                "husband", "hubby", "son", "daughter", "aunt", "uncle", "grandma", "grandmother",
                "grandpa", "grandfather", "nan", "neighbor", "neighbour", "coworker", "colleague",
                "boss", "partner", "boyfriend", "girlfriend", "bf", "gf", "kid", "child", "baby", "sis", "bro",
                "flatmate", "housemate", "influencer", "girl", "celebrity", "somebody's", "documentary",
                "he", "she", "they", "him", "her", "his", "them", "their", "guy",
                "woman", "man", "lady", "client", "bestie", "mate", "roommate", "fiance", "fiancee"}
_AUX_STARTERS = {"do", "does", "did", "is", "are", "am", "was", "were", "can", "could", "will", "would",
                 "should", "may", "might", "shall", "has", "have", "had"}
_WH_STARTERS = {"what", "how", "why", "when", "which", "where", "who", "whats", "hows"}
_SUBJECTS = {"i", "you", "it", "botox", "this", "that", "there", "the", "my", "people", "a", "an", "we",
             "he", "she", "they", "your", "his", "her", "its", "anyone", "someone", "everyone", "u",
             "these", "those", "injection", "injections", "treatment", "patients", "one"}
_CONDITIONALS = {"if", "whether", "suppose", "supposing", "incase", "hypothetically", "unless"}
_CONDITIONAL_PHRASES = [("in", "case"), ("what", "about"), ("what", "happen"), ("risk", "of"),
                        ("chance", "of"), ("chance", "to")]
_MODALS = {"will", "would", "might", "may", "can", "could", "should", "gonna", "shall"}
_ACQUIRE = {"have", "get", "experience", "develop", "cause", "happen", "make", "lead", "give", "end",
            "be", "start", "notice", "suffer"}
_GENERIC_INFO = {"cause", "risk", "rare", "rarely", "common", "possible", "sometimes", "side", "you",
                 "chance", "likely", "happen", "usually", "typically", "sign", "symptom", "mean", "serious",
                 "dangerous", "normal"}
_ONGOING = {"now", "still", "since", "currently", "today", "tonight", "again", "keep", "start", "begin",
            "worse", "constantly", "continue", "anymore"}
_ONGOING_PHRASES = [("right", "now"), ("this", "morning"), ("this", "evening"), ("at", "the", "moment"),
                    ("all", "day")]
_RESOLVED_PHRASES = [("go", "away"), ("go", "down"), ("clear", "up"), ("better", "now"),
                     ("fine", "now"), ("ok", "now"), ("okay", "now"), ("normal", "now"), ("no", "longer"),
                     ("not", "anymore"), ("use", "to"), ("back", "to", "normal"), ("wear", "off"),
                     ("in", "the", "past"), ("back", "now"), ("be", "fine"), ("fine", "since"),
                     ("perfect", "since"), ("even", "out"), ("sort", "itself"), ("nothing", "since"),
                     ("fully", "better"), ("still", "be", "fine")]
_RESOLVED = {"resolve", "recover", "recovered", "settle", "heal", "disappear", "subside", "fade", "clear",
             "cleared"}
_REMOTE_PAST_PHRASES = [("year", "ago"), ("month", "ago"), ("week", "ago"), ("a", "while", "ago"),
                        ("long", "ago"), ("last", "year"), ("last", "time"), ("in", "the", "past"),
                        ("use", "to"), ("back", "in"), ("when", "i", "be"), ("as", "a", "kid"),
                        ("as", "a", "child"), ("as", "a", "teen"), ("as", "a", "teenager"), ("history", "of"),
                        ("last", "month"), ("last", "week"), ("last", "yr"), ("last", "spring"),
                        ("last", "summer"), ("last", "autumn"), ("last", "fall"), ("last", "winter")]
# "in 2018": a year on its own is a past event's date.
_YEAR = re.compile(r"^(19|20)\d\d$")
# Someone's account passed on: "a colleague told me", "a woman in my group said", "I read about".
_REPORTED_SPEECH = {"said", "told", "read", "heard", "watched", "saw", "posted"}
# In a question, these make it a question about the symptom in general, even in the first person
# ("what are the signs of an infection I should look for?"), unless something says it is ongoing.
_GENERAL_QUESTION = {"sign", "signs", "symptom", "symptoms", "difference", "likely", "common", "rare", "ever",
                     "risk", "chance", "look", "happen", "prevent", "avoid"}
# Someone with the patient now: a carer's report, even as a question ("my son is next to me and
# can't hold his head up, is that dangerous?").
_PRESENT_PHRASES = [("with", "me"), ("next", "to", "me"), ("beside", "me"), ("she", "be", "here"),
                    ("he", "be", "here"), ("they", "be", "here"), ("here", "with"), ("sit", "next", "to")]
# A first-person report asked about ("should I be worried that I can't catch my breath tonight?",
# "is it normal to feel this lightheaded?"): a report, not a question about the symptom in general.
_REPORT_WRAPPERS = {"worry", "worried", "concern", "concerned", "normal", "why", "expect", "expected",
                    "dangerous", "serious", "okay", "ok", "bad", "wrong"}
# A question about the future ("will my lips be swollen after a lip flip?") asks about a possibility.
_FUTURE_MODALS = {"will", "would", "might", "could", "may"}
# Not "ago" alone: "twenty minutes ago" is now.
_REMOTE_PAST = {"once", "previously", "previous"}
_PAST_FORMS = {"was", "were", "had", "got", "did", "could", "went", "came", "felt", "became", "said",
               "told", "gotten", "used", "began", "started", "drooped", "seemed", "looked"}


@dataclass(frozen=True)
class Finding:
    """One symptom phrase found in a message, and how it was meant."""

    category: str
    label: str
    tier: str
    phrase: str
    context: str  # REPORT, NEGATED, QUESTION, OTHER_PERSON or PAST
    start: int  # character offsets of the phrase in the message
    end: int


@dataclass(frozen=True)
class Assessment:
    findings: Tuple[Finding, ...]
    tier: Optional[str]  # "emergency" | "urgent" | None when nothing is reported
    reasons: Tuple[str, ...]  # labels of what was reported, for the clinician

    @property
    def is_report(self) -> bool:
        return self.tier is not None

    @property
    def mentions_red_flag(self) -> bool:
        """A red-flag symptom is named (perhaps not reported): the reply needs the safety net."""
        return bool(self.findings)



def _contains_phrase(words: Sequence[str], phrase: Sequence[str]) -> bool:
    n = len(phrase)
    return any(tuple(words[i:i + n]) == tuple(phrase) for i in range(len(words) - n + 1))


class RedFlagDetector:
    def __init__(self, nlp, rules: dict):
        from spacy.matcher import Matcher

        self._nlp = nlp
        self._spellings = {str(k).lower(): str(v).lower() for k, v in (rules.get("spellings") or {}).items()}
        self._known_words, self._inflected_words = self._english_words(nlp)
        self._typo_targets: List[str] = []  # filled once the patterns are known, below
        self._categories = rules["categories"]
        # Higher is more serious: "emergency" above "urgent" (clinic/red_flags.yml, tiers).
        self.tier_rank = {name: int(tier["rank"]) for name, tier in rules["tiers"].items()}
        self._combinations = rules.get("combinations") or []
        groups = {name: [self._canonical_phrase(entry) for entry in entries]
                  for name, entries in (rules.get("groups") or {}).items()}
        self._worsening = [self._canonical_phrase(w).split() for w in rules.get("worsening") or []]
        self._unless = {name: {self._canonical_phrase(w) for w in cat.get("unless_with") or []}
                        for name, cat in self._categories.items()}
        self._matcher = Matcher(nlp.vocab)
        # Matcher key -> (category, positions of gap wildcards in that expanded pattern)
        self._patterns: Dict[str, Tuple[str, set]] = {}
        symptom_words = set()
        for name, cat in self._categories.items():
            for source in cat["patterns"]:
                for tokens in self._expand(source, groups):
                    pattern, gap_positions = [], set()
                    for tok in tokens:
                        if tok == _GAP:
                            for _ in range(_MAX_GAP):
                                gap_positions.add(len(pattern))
                                pattern.append({"IS_PUNCT": False, "OP": "?"})
                        else:
                            optional = tok.endswith("?") and len(tok) > 1
                            alternatives = [a for a in tok.rstrip("?").split("|") if a]
                            symptom_words.update(a for a in alternatives if len(a) >= 5)
                            spec = {"ORTH": {"IN": alternatives}}
                            if optional:
                                spec["OP"] = "?"
                            pattern.append(spec)
                    key = f"{name}#{len(self._patterns)}"
                    self._patterns[key] = (name, gap_positions)
                    self._matcher.add(key, [pattern])
        self._typo_targets = sorted(symptom_words)

    # ---------------------------------------------------------------------------------------
    # Construction helpers
    # ---------------------------------------------------------------------------------------
    @classmethod
    def from_files(cls, pipeline_path: Path, rules_path: Path) -> "RedFlagDetector":
        import spacy

        with open(rules_path, encoding="utf-8") as f:
            rules = yaml.safe_load(f)
        return cls(spacy.load(pipeline_path), rules)

    @staticmethod
    def _english_words(nlp) -> Tuple[Set[str], Container[str]]:
        """Words known to be English, never typo-corrected: lemmas and stop words (a set), and the
        inflected forms the lemma table maps (the table itself: its keys are hashed strings).
        Without the inflected forms "fewer" was one letter from "fever" ("fewer migraines")."""
        words = {w.lower() for w in nlp.Defaults.stop_words}
        try:
            table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
        except (KeyError, ValueError):
            return words, {}
        return words | {str(v).lower() for v in table.values()}, table

    def _canonical_phrase(self, phrase: str) -> str:
        """Canonical form of a phrase from the rules file, keeping the pattern syntax intact."""
        out = []
        for word in str(phrase).split():
            if word == _GAP or word.startswith("@"):
                out.append(word)
                continue
            optional = word.endswith("?") and len(word) > 1
            alts = [" ".join(self._canonical_words(self._nlp(a))[0]) for a in word.rstrip("?").split("|")]
            if len(alts) > 1 and any(" " in a for a in alts):
                # "can not" is two tokens: it can be a group entry or its own pattern, not an alternative.
                raise ValueError(f"alternative {word!r} in {phrase!r} is more than one word")
            out.append("|".join(alts) + ("?" if optional else ""))
        return " ".join(out)

    def _expand(self, source: str, groups: Dict[str, List[str]]) -> Iterable[List[str]]:
        """Expand @groups (whose entries may be several words) into plain token lists."""
        choices = []
        for tok in self._canonical_phrase(source).split():
            if tok.startswith("@"):
                choices.append([entry.split() for entry in groups[tok[1:]]])
            else:
                choices.append([[tok]])
        for combo in itertools.product(*choices):
            yield [t for part in combo for t in part]

    # ---------------------------------------------------------------------------------------
    # Canonical words
    # ---------------------------------------------------------------------------------------
    def _correct_typo(self, word: str) -> Optional[str]:
        if len(word) < 5 or word in self._known_words or word in self._inflected_words:
            return None
        # Typos rarely change the first letter; requiring it keeps "never" from becoming "fever".
        close = [t for t in self._typo_targets
                 if t[0] == word[0] and abs(len(t) - len(word)) <= 1 and _one_edit(word, t)]
        return close[0] if len(close) == 1 else None

    def _canonical_words(self, doc) -> Tuple[List[str], List[int], List[str]]:
        """Canonical words of a doc, and for each the index and lower-case text of its token.

        The surface text keeps what lemmas lose: tense ("had" vs "have"), "am" vs "is".
        """
        words, origin, surface = [], [], []
        for tok in doc:
            if tok.is_space and "\n" not in tok.text:
                continue
            low = "\n" if tok.is_space else tok.lower_.replace("’", "'")
            mapped = self._spellings.get(low)
            if mapped is None:
                lemma = (tok.lemma_ or low).lower()
                mapped = self._correct_typo(low) or self._spellings.get(lemma, lemma)
            for w in mapped.split() or [low]:
                words.append(w)
                origin.append(tok.i)
                surface.append(low)
        return words, origin, surface

    # ---------------------------------------------------------------------------------------
    # Assessment
    # ---------------------------------------------------------------------------------------
    def assess(self, text: str) -> Assessment:
        from spacy.tokens import Doc

        doc = self._nlp(text or "")
        words, origin, surface = self._canonical_words(doc)
        if not words:
            return Assessment((), None, ())
        cdoc = Doc(self._nlp.vocab, words=words)
        seen = set()
        findings: List[Finding] = []
        spans: List[Tuple[int, int]] = []
        for match_id, start, end, alignment in self._matcher(cdoc, with_alignments=True):
            category, gap_positions = self._patterns[self._nlp.vocab.strings[match_id]]
            cat = self._categories[category]
            clause_start, clause_end = _bounds(words, start, _CLAUSE_BREAK)
            clause = words[clause_start:clause_end]
            if self._unless[category] & set(clause) or any(
                    " " in u and _contains_phrase(clause, u.split()) for u in self._unless[category]):
                continue
            gap_words = [words[start + k] for k, pat_idx in enumerate(alignment) if pat_idx in gap_positions]
            context = self._context(words, surface, start, end, clause_start, clause_end, gap_words)
            span = doc[origin[start]:origin[end - 1] + 1]
            key = (category, context, span.text)
            if key not in seen:
                seen.add(key)
                findings.append(Finding(category, cat["label"], cat["tier"], span.text, context,
                                        span.start_char, span.end_char))
                spans.append((start, end))
        tier, reasons = self._tier(findings, words, spans)
        return Assessment(tuple(findings), tier, tuple(reasons))

    def _context(self, words, surface, start, end, clause_start, clause_end, gap_words) -> str:
        clause = words[clause_start:clause_end]
        before = words[clause_start:start]
        sent_start, sent_end = _bounds(words, start, _SENTENCE_END)
        outside = words[sent_start:start] + words[end:sent_end]

        if self._negated(before, gap_words):
            return NEGATED
        first_person = _first_person(clause)
        question = _is_question(words, surface, sent_start, sent_end)
        sentence_surface = set(surface[sent_start:sent_end])
        present = any(_contains_phrase(words, p) for p in _PRESENT_PHRASES)
        if _third_party(words[sent_start:sent_end]) and (_REPORTED_SPEECH & sentence_surface) and not (
                _ONGOING & set(clause)) and not present:
            return OTHER_PERSON  # "my friend said her eyelid drooped": an account passed on
        if _third_party(clause) and not first_person and present and not _GENERIC_PEOPLE & set(clause):
            return REPORT
        if _third_party(clause) and not first_person:
            # "my mum can't breathe" is a carer reporting an emergency; "my sister couldn't
            # swallow" or "my friend has a droopy eye, is that normal?" is an anecdote or question.
            if (question or _GENERIC_PEOPLE & set(clause) or _hypothetical(before, question)
                    or _past_tense(surface[clause_start:clause_end])):
                return OTHER_PERSON
            return REPORT
        ongoing = bool(_ONGOING & set(clause)) or any(_contains_phrase(clause, p) for p in _ONGOING_PHRASES)
        resolved = bool(_RESOLVED & set(outside)) or any(_contains_phrase(outside, p) for p in _RESOLVED_PHRASES)
        sentence = words[sent_start:sent_end]
        remote = bool(_REMOTE_PAST & set(clause)) or any(
            _contains_phrase(sentence, p) for p in _REMOTE_PAST_PHRASES) or any(_YEAR.match(w) for w in sentence)
        if (resolved or remote) and not ongoing:
            return PAST
        conditional = bool(_CONDITIONALS & set(before))
        if question and first_person and not conditional and (ongoing or _REPORT_WRAPPERS & set(sentence)):
            return REPORT
        if _hypothetical(before, question):
            return QUESTION
        if question and not ongoing and (_GENERAL_QUESTION & set(sentence) or (
                words[sent_start] in _FUTURE_MODALS and "now" not in sentence)):
            return QUESTION
        if not first_person and (question or _GENERIC_INFO & set(clause)):
            return QUESTION
        return REPORT

    @staticmethod
    def _negated(before: Sequence[str], gap_words: Sequence[str]) -> bool:
        window = list(before[-_NEGATION_WINDOW:])
        for i, w in enumerate(window):
            if w not in _NEGATIONS:
                continue
            nxt = window[i + 1] if i + 1 < len(window) else None
            if nxt in _PSEUDO_NEGATED:
                continue
            if w in {"no", "nope"} and (nxt in _PRONOUNS_AFTER_INTERJECTION):
                continue  # "no i cant breathe": an answer, not a negation of what follows
            return True
        return any(w in _NEGATIONS for w in gap_words)

    def _tier(self, findings, words, spans) -> Tuple[Optional[str], List[str]]:
        reported = {f.category: f for f in findings if f.context == REPORT}
        if not reported:
            return None, []
        reasons = sorted({f.label for f in reported.values()})
        tier = max((f.tier for f in reported.values()), key=self.tier_rank.get)
        for combo in self._combinations:
            if set(combo["all_of"]) <= reported.keys() and set(combo["any_of"]) & reported.keys():
                reasons.append(combo["label"])
                tier = max(tier, combo["tier"], key=self.tier_rank.get)
        if tier == "urgent":
            covered = {i for s, e in spans for i in range(s, e)}
            free = [w if i not in covered else "\0" for i, w in enumerate(words)]
            if any(_contains_phrase(free, w) for w in self._worsening):
                reasons.append("getting worse")
                tier = "emergency"
        return tier, reasons


# ---------------------------------------------------------------------------------------------
# Small pure helpers
# ---------------------------------------------------------------------------------------------
def _bounds(words: Sequence[str], index: int, breaks: set) -> Tuple[int, int]:
    start = index
    while start > 0 and words[start - 1] not in breaks:
        start -= 1
    end = index
    while end < len(words) and words[end] not in breaks:
        end += 1
    if end < len(words) and words[end] == "?":
        end += 1  # keep the question mark with its clause
    return start, end


def _first_person(clause: Sequence[str]) -> bool:
    for i, w in enumerate(clause):
        if w in _FIRST_PERSON:
            nxt = clause[i + 1] if i + 1 < len(clause) else None
            if w == "my" and (nxt in _THIRD_PARTY or set(clause[i + 1:i + 3]) & _THIRD_PARTY):
                continue  # "my sister", "my best friend" is someone else
            if w == "me" and i and clause[i - 1] in {"tell", "told", "show", "send"}:
                continue  # "she told me"
            if w == "mine" and i and clause[i - 1] == "of":
                continue  # "a friend of mine"
            return True
    return False


def _third_party(clause: Sequence[str]) -> bool:
    return bool(_THIRD_PARTY & set(clause))


def _is_question(words: Sequence[str], surface: Sequence[str], start: int, end: int) -> bool:
    if "?" in words[start:end]:
        return True
    sentence = [i for i in range(start, end) if words[i].strip()]
    if not sentence:
        return False
    first = surface[sentence[0]]
    nxt = words[sentence[1]] if len(sentence) > 1 else None
    if first in _WH_STARTERS:
        return True
    # "can i...", "is it..." are questions; "cant swallow", "am having trouble" are statements.
    return first in _AUX_STARTERS and nxt in _SUBJECTS


def _hypothetical(before: Sequence[str], question: bool) -> bool:
    if _CONDITIONALS & set(before) or any(_contains_phrase(before, p) for p in _CONDITIONAL_PHRASES):
        return True
    if not question:
        return False
    if _contains_phrase(before, ("go", "to")):
        return True  # "am i going to have..."
    # "will i get...", "can botox make...", "could you end up with...": asking about a possibility.
    for i, w in enumerate(before):
        if w in _MODALS and (i + 1 >= len(before) or before[i + 1] != "not"):
            if _ACQUIRE & set(before[i + 1:i + 4]) or (i + 1 < len(before) and before[i + 1] not in {"i", "my"}):
                return True
    return False


def _past_tense(clause: Sequence[str]) -> bool:
    return bool(_PAST_FORMS & set(clause))


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by one insertion, deletion, substitution or adjacent swap."""
    if a == b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    if abs(len(a) - len(b)) != 1:
        return False
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


@lru_cache(maxsize=None)
def load_detector(pipeline_path: str, rules_path: str) -> RedFlagDetector:
    """One detector per (pipeline, rules) pair per process: building the matcher takes a moment."""
    return RedFlagDetector.from_files(Path(pipeline_path), Path(rules_path))


def configured_detector() -> RedFlagDetector:
    """The detector over the configured spaCy pipeline and rules file (SPACY_PIPELINE, RED_FLAG_RULES):
    the one configuration every process uses."""
    settings = get_settings()
    return load_detector(settings.spacy_pipeline, settings.red_flag_rules)
