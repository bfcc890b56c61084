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
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Container, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import yaml

from botox_clinic import language
from botox_clinic.language import DEFAULT_LANGUAGE, fold_accents
from botox_clinic.settings import get_settings

# The key of the parse data (a message's NLU result) that carries a message's assessment.
ASSESSMENT_KEY = "red_flag_assessment"

REPORT = "report"
NEGATED = "negated"
QUESTION = "question"
OTHER_PERSON = "other_person"
PAST = "past"

_GAP = "~"
# "in 2018": a year on its own is a past event's date.
_YEAR = re.compile(r"^(19|20)\d\d$")


@dataclass(frozen=True)
class ContextWords:
    """One language's context vocabulary (the `context` block of a language in clinic/red_flags.yml),
    in canonical form: what makes a symptom phrase a question, a negation, someone else's or past.
    Sets of words, and phrases as tuples of words; `*_forms` are surface forms (tense and person,
    which lemmas lose)."""

    sentence_end: frozenset
    clause_break: frozenset  # with sentence_end
    negations: frozenset
    # "not sure", "can't stop choking", "don't know why": the negation is about something else.
    pseudo_negated: frozenset
    clitics: frozenset  # ...unless one of these follows it ("no se me ha trabado": a negation)
    emphatic_in_gap: frozenset  # negations that negate nothing inside a phrase
    wrapper_conditional_phrases: tuple  # a conditional ending one of these asks about now
    # "no i cant breathe": an answer, not a negation of what follows.
    interjection_negations: frozenset
    pronouns_after_interjection: frozenset
    first_person: frozenset
    first_person_forms: frozenset  # verbs that carry the person where no pronoun is said ("puedo")
    # "my sister" is someone else; "she told me"; "a friend of mine".
    first_person_possessive: frozenset
    first_person_object: frozenset
    telling_verbs: frozenset
    first_person_independent: frozenset
    of_words: frozenset
    # Anyone in general: never a carer's report about a patient in front of them.
    generic_people: frozenset
    third_party: frozenset  # with generic_people
    aux_starters: frozenset
    wh_starters: frozenset
    subjects: frozenset
    conditionals: frozenset
    conditional_phrases: tuple
    modals: frozenset
    negation_after_modal: frozenset
    self_after_modal: frozenset
    going_to_phrases: tuple  # "am i going to have...": a possibility
    acquire: frozenset
    generic_info: frozenset
    ongoing: frozenset
    ongoing_phrases: tuple
    now_words: frozenset
    resolved_phrases: tuple
    resolved: frozenset
    remote_past_phrases: tuple
    # Not "ago" alone: "twenty minutes ago" is now.
    remote_past: frozenset
    # A recent time of `treatment_times` (a remote-past phrase) after a treatment word in its clause
    # says when the treatment was, not that the symptom is past: "I can't lift my head off the
    # pillow, I had neck Botox last week". Not "three years ago": a symptom after that treatment is old.
    treatment_words: frozenset
    treatment_times: tuple
    # Someone's account passed on: "a colleague told me", "a woman in my group said", "I read about".
    reported_speech: frozenset
    # In a question, these make it a question about the symptom in general, even in the first person
    # ("what are the signs of an infection I should look for?"), unless something says it is ongoing.
    general_question: frozenset
    # Someone with the patient now: a carer's report, even as a question ("my son is next to me and
    # can't hold his head up, is that dangerous?").
    present_phrases: tuple
    # A first-person report asked about ("should I be worried that I can't catch my breath
    # tonight?", "is it normal to feel this lightheaded?"): a report, not a question in general.
    report_wrappers: frozenset
    # A question about the future ("will my lips be swollen after a lip flip?") asks about a possibility.
    future_modals: frozenset
    # A question answered by a first-person statement of now ("Is it normal to feel short of breath
    # after neck botox? I'm puffing just walking to the kitchen since this morning."): the question is
    # about what is happening. A statement with one of `statement_now`, no negation and none of
    # `statement_unless` ("I'm booked in for this morning", "I'm fine now") makes the message's
    # questions about a symptom reports.
    statement_now: tuple
    statement_unless: frozenset
    past_forms: frozenset
    # Spanish is written with and without accents: compare words without them.
    fold_accents: bool = False
    # Match lemmas (English) or the words as written, with prefixes in the patterns ("trag*": the
    # Spanish lemma table is too noisy for SMS spelling: "parpado" is a form of "parpar").
    lemmas: bool = True
    # How many other words a pattern's ~ may stand for.
    max_gap: int = 3
    # How many words before a symptom phrase a negation may be.
    negation_window: int = 3

    # Compared with the message's surface words (lower case), not its lemmas.
    SURFACE = ("sentence_end", "clause_break", "aux_starters", "wh_starters", "past_forms", "first_person_forms",
               "reported_speech")
    OPTIONS = ("fold_accents", "lemmas", "max_gap", "negation_window")

    @classmethod
    def from_rules(cls, context: dict) -> "ContextWords":
        """From a language's `context` block, whose words are in canonical form (accents folded
        where the language says so)."""
        unknown = set(context) - set(cls.__annotations__)
        if unknown:
            raise ValueError(f"unknown context entries in the red-flag rules: {sorted(unknown)}")
        fold = bool(context.get("fold_accents"))
        values: Dict[str, Any] = {"fold_accents": fold, "lemmas": bool(context.get("lemmas", True)),
                                  "max_gap": int(context.get("max_gap", 3)),
                                  "negation_window": int(context.get("negation_window", 3))}
        for name, kind in cls.__annotations__.items():
            if name in cls.OPTIONS:
                continue
            entries = [fold_accents(str(e)) if fold else str(e) for e in context.get(name) or []]
            values[name] = tuple(tuple(e.split()) for e in entries) if kind == "tuple" else frozenset(entries)
        values["clause_break"] = values["clause_break"] | values["sentence_end"]
        values["third_party"] = values["third_party"] | values["generic_people"]
        return cls(**values)


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
    # Every clause (questions aside) says a function is normal: "my voice held up perfectly".
    reassured: bool = False

    @property
    def is_report(self) -> bool:
        return self.tier is not None

    @property
    def reported_categories(self) -> FrozenSet[str]:
        return frozenset(f.category for f in self.findings if f.context == REPORT)

    @property
    def mentions_red_flag(self) -> bool:
        """A red-flag symptom is named (perhaps not reported): the reply needs the safety net."""
        return bool(self.findings)



def combination(categories: Iterable[str], combinations: Sequence[dict],
                tier_rank: Mapping[str, int]) -> Tuple[Optional[str], List[str]]:
    """The highest tier, and the labels, of the combinations (clinic/red_flags.yml `combinations`)
    these categories make: all of `all_of` and any of `any_of`."""
    categories = set(categories)
    matched = [c for c in combinations if set(c["all_of"]) <= categories and set(c["any_of"]) & categories]
    return max((c["tier"] for c in matched), key=tier_rank.get, default=None), [c["label"] for c in matched]


def _phrase_at(words: Sequence[str], index: int, phrase: Sequence[str]) -> bool:
    return tuple(words[index:index + len(phrase)]) == tuple(phrase)


def _contains_phrase(words: Sequence[str], phrase: Sequence[str]) -> bool:
    return any(_phrase_at(words, i, phrase) for i in range(len(words) - len(phrase) + 1))


@dataclass(frozen=True)
class Reassurance:
    """Does every clause of a message say that something is normal? The learned detector reads a
    message's topic ("my voice", "my bladder") more than what is said about it, and took "I'm
    passing water normally" for a report. Every language's words at once (clinic/red_flags.yml,
    `reassurance`): "is that normal" is an English question to the Spanish "normal" too. The
    message is compared as written, in lower case, accents folded."""
    phrases: re.Pattern
    standalone: re.Pattern  # phrases that count only at a clause's end or before a `followers` word
    negations: FrozenSet[str]
    questions: re.Pattern
    clause_break: re.Pattern
    # A negation this many words before a phrase cancels it: "I can't see normally".
    NEGATION_WINDOW = 3

    @classmethod
    def from_rules(cls, blocks: Sequence[dict]) -> "Reassurance":
        def words(key: str) -> List[str]:
            return sorted({fold_accents(str(w).lower()) for block in blocks for w in block.get(key) or []},
                          key=len, reverse=True)

        def alternatives(key: str) -> str:
            return "|".join(map(re.escape, words(key))) or "(?!)"

        return cls(re.compile(rf"(?<!\w)(?:{alternatives('phrases')})(?!\w)"),
                   re.compile(rf"(?<!\w)(?:{alternatives('standalone')})"
                              rf"(?=\s*(?:$|[.!\u2026]|(?:{alternatives('followers')})(?!\w)))"),
                   frozenset(words("negations")),
                   re.compile(rf"(?<!\w)(?:{alternatives('questions')})(?!\w)"),
                   re.compile(rf"[,;:()]|(?<!\w)(?:{alternatives('contrast')})(?!\w)"))

    def __call__(self, text: str) -> bool:
        clauses = []
        for sentence in re.split(r"(?<=[.!?\n\u2026])|\u00bf", fold_accents((text or "").lower())):
            if "?" not in sentence:
                clauses += [c.strip() for c in self.clause_break.split(sentence) if len(c.split()) >= 2]
        return bool(clauses) and all(self._says_normal(clause) for clause in clauses)

    def _says_normal(self, clause: str) -> bool:
        if self.questions.search(clause):
            return False
        for found in itertools.chain(self.phrases.finditer(clause), self.standalone.finditer(clause)):
            before = re.findall(r"[\w']+", clause[:found.start()])[-self.NEGATION_WINDOW:]
            if not self.negations & set(before):
                return True
        return False


def language_rules(rules: dict, language: str) -> dict:
    """One language's view of the rules file: English is the top level; another language's block
    (`es:`) has its own context, groups, spellings, worsening words, and each category's patterns
    and unless_with, while the tiers, labels and combinations are shared."""
    if language == DEFAULT_LANGUAGE:
        return rules
    block = rules[language]
    categories = {name: {**cat, "patterns": block["patterns"].get(name) or [],
                         "unless_with": (block.get("unless_with") or {}).get(name) or []}
                  for name, cat in rules["categories"].items()}
    return {**rules, **{k: block.get(k) for k in ("context", "groups", "spellings", "worsening", "reassurance")},
            "categories": categories}


class RedFlagDetector:
    """The rules of one language over that language's spaCy pipeline."""

    def __init__(self, nlp, rules: dict, language: str = DEFAULT_LANGUAGE):
        from spacy.matcher import Matcher

        rules = language_rules(rules, language)
        self.language = language
        self._nlp = nlp
        self._typo_targets: List[str] = []  # filled once the patterns are known, below
        self.context = ContextWords.from_rules(rules.get("context") or {})
        self.reassurance_words = rules.get("reassurance") or {}
        self._spellings = {self._fold_word(str(k).lower()): str(v).lower()
                           for k, v in (rules.get("spellings") or {}).items()}
        self._known_words, self._inflected_words = self._language_words(nlp)
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
                            for _ in range(self.context.max_gap):
                                gap_positions.add(len(pattern))
                                pattern.append({"IS_PUNCT": False, "OP": "?"})
                        else:
                            optional = tok.endswith("?") and len(tok) > 1
                            alternatives = [a for a in tok.rstrip("?").split("|") if a]
                            symptom_words.update(a for a in alternatives if len(a) >= 5 and not a.endswith("*"))
                            spec = {"ORTH": _token_spec(alternatives)}
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
    def from_files(cls, pipeline_path: Path, rules_path: Path, language: str = DEFAULT_LANGUAGE) -> "RedFlagDetector":
        import spacy

        with open(rules_path, encoding="utf-8") as f:
            rules = yaml.safe_load(f)
        return cls(spacy.load(pipeline_path), rules, language)

    def _language_words(self, nlp) -> Tuple[Set[str], Container[str]]:
        """Words known to be of the language, never typo-corrected: lemmas and stop words (a set),
        and the inflected forms the lemma table maps (the table itself: its keys are hashed strings).
        Without the inflected forms "fewer" was one letter from "fever" ("fewer migraines")."""
        words = {self._fold_word(w.lower()) for w in nlp.Defaults.stop_words}
        try:
            table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
        except (KeyError, ValueError):
            return words, {}
        return words | {self._fold_word(str(v).lower()) for v in table.values()}, table

    def _fold_word(self, word: str) -> str:
        return fold_accents(word) if self.context.fold_accents else word

    def _canonical_phrase(self, phrase: str) -> str:
        """Canonical form of a phrase from the rules file, keeping the pattern syntax intact."""
        out = []
        for word in str(phrase).split():
            if word == _GAP or word.startswith("@"):
                out.append(word)
                continue
            optional = word.endswith("?") and len(word) > 1
            alts = [self._canonical_alternative(a) for a in word.rstrip("?").split("|")]
            if len(alts) > 1 and any(" " in a for a in alts):
                # "can not" is two tokens: it can be a group entry or its own pattern, not an alternative.
                raise ValueError(f"alternative {word!r} in {phrase!r} is more than one word")
            out.append("|".join(alts) + ("?" if optional else ""))
        return " ".join(out)

    def _canonical_alternative(self, word: str) -> str:
        """"swallowing" -> "swallow"; a prefix ("trag*") keeps its star."""
        prefix = word.endswith("*") and len(word) > 1
        canonical = " ".join(self._canonical_words(self._nlp(word.rstrip("*")))[0])
        return canonical + "*" if prefix else canonical

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
            low = "\n" if tok.is_space else self._fold_word(tok.lower_.replace("’", "'"))
            mapped = self._spellings.get(low)
            if mapped is None:
                lemma = self._fold_word((tok.lemma_ or low).lower()) if self.context.lemmas else low
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
            clause_start, clause_end = _bounds(words, start, self.context.clause_break)
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
        if any(f.context == QUESTION for f in findings) and self._states_it_now(words, surface):
            findings = [replace(f, context=REPORT) if f.context == QUESTION else f for f in findings]
        tier, reasons = self._tier(findings, words, spans)
        return Assessment(tuple(findings), tier, tuple(reasons))

    def _states_it_now(self, words: Sequence[str], surface: Sequence[str]) -> bool:
        """A sentence, not a question, in the first person, saying something is so now."""
        c = self.context
        start = 0
        while start < len(words):
            if words[start] in c.sentence_end:
                start += 1
                continue
            _, end = _bounds(words, start, c.sentence_end)
            sentence = words[start:end]
            if (not _is_question(c, words, surface, start, end) and _first_person(c, sentence, surface[start:end])
                    and any(_contains_phrase(sentence, p) for p in c.statement_now)
                    and not (c.negations | c.statement_unless) & set(sentence)):
                return True
            start = end
        return False

    def _context(self, words, surface, start, end, clause_start, clause_end, gap_words) -> str:
        c = self.context
        clause = words[clause_start:clause_end]
        before = words[clause_start:start]
        sent_start, sent_end = _bounds(words, start, c.sentence_end)
        outside = words[sent_start:start] + words[end:sent_end]

        if self._negated(before, gap_words):
            return NEGATED
        first_person = _first_person(c, clause, surface[clause_start:clause_end])
        question = _is_question(c, words, surface, sent_start, sent_end)
        sentence_surface = set(surface[sent_start:sent_end])
        present = any(_contains_phrase(words, p) for p in c.present_phrases)
        third_party = bool(c.third_party & set(clause))
        if (c.third_party & set(words[sent_start:sent_end])) and (c.reported_speech & sentence_surface) and not (
                c.ongoing & set(clause)) and not present:
            return OTHER_PERSON  # "my friend said her eyelid drooped": an account passed on
        if present and not first_person and not c.generic_people & set(clause) and (
                third_party or c.third_party & set(words[sent_start:sent_end])):
            return REPORT
        if third_party and not first_person:
            # "my mum can't breathe" is a carer reporting an emergency; "my sister couldn't
            # swallow" or "my friend has a droopy eye, is that normal?" is an anecdote or question.
            if (question or c.generic_people & set(clause) or _hypothetical(c, before, question)
                    or c.past_forms & set(surface[clause_start:clause_end])):
                return OTHER_PERSON
            return REPORT
        ongoing = bool(c.ongoing & set(clause)) or any(_contains_phrase(clause, p) for p in c.ongoing_phrases)
        resolved = bool(c.resolved & set(outside)) or any(_contains_phrase(outside, p) for p in c.resolved_phrases)
        sentence = words[sent_start:sent_end]
        remote = self._remote_past(words, sent_start, sent_end, clause_start, clause_end)
        if (resolved or remote) and not ongoing:
            return PAST
        conditional = any(w in c.conditionals and not any(tuple(before[i + 1 - len(p):i + 1]) == p
                                                           for p in c.wrapper_conditional_phrases)
                          for i, w in enumerate(before))
        if question and first_person and not conditional and (ongoing or c.report_wrappers & set(sentence)):
            return REPORT
        if _hypothetical(c, before, question):
            return QUESTION
        if question and not ongoing and (c.general_question & set(sentence) or (
                words[sent_start] in c.future_modals and not c.now_words & set(sentence))):
            return QUESTION
        if not first_person and (question or c.generic_info & set(clause)):
            return QUESTION
        return REPORT

    def _remote_past(self, words, sent_start, sent_end, clause_start, clause_end) -> bool:
        """A remote-past time in the symptom's sentence (a word of `remote_past` in its clause),
        other than a recent treatment's time."""
        c = self.context
        up_to_sentence_end = words[:sent_end]  # a phrase must end within the sentence
        times = [i for i in range(clause_start, clause_end) if words[i] in c.remote_past]
        times += [i for i in range(sent_start, sent_end) if _YEAR.match(words[i]) or any(
            _phrase_at(up_to_sentence_end, i, p) for p in c.remote_past_phrases)]

        def treatment_time(i: int) -> bool:
            return any(_phrase_at(words, i, p) for p in c.treatment_times) and bool(
                c.treatment_words & set(words[_bounds(words, i, c.clause_break)[0]:i]))

        return any(not treatment_time(i) for i in times)

    def _negated(self, before: Sequence[str], gap_words: Sequence[str]) -> bool:
        c = self.context
        window = list(before[-c.negation_window:])
        for i, w in enumerate(window):
            if w not in c.negations:
                continue
            nxt = window[i + 1] if i + 1 < len(window) else None
            if nxt in c.pseudo_negated and not (i + 2 < len(window) and window[i + 2] in c.clitics):
                continue
            if w in c.interjection_negations and (nxt in c.pronouns_after_interjection):
                continue  # "no i cant breathe": an answer, not a negation of what follows
            return True
        return any(w in c.negations and w not in c.emphatic_in_gap for w in gap_words)

    def tier_of(self, findings: Sequence[Finding]) -> Tuple[Optional[str], Tuple[str, ...]]:
        """The tier and reasons of these findings alone (no words to say it is getting worse)."""
        tier, reasons = self._tier(findings, [], [])
        return tier, tuple(reasons)

    def _tier(self, findings, words, spans) -> Tuple[Optional[str], List[str]]:
        reported = {f.category: f for f in findings if f.context == REPORT}
        if not reported:
            return None, []
        reasons = sorted({f.label for f in reported.values()})
        tier = max((f.tier for f in reported.values()), key=self.tier_rank.get)
        combination_tier, combination_labels = combination(reported, self._combinations, self.tier_rank)
        if combination_tier:
            reasons += combination_labels
            tier = max(tier, combination_tier, key=self.tier_rank.get)
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
def _token_spec(alternatives: Sequence[str]) -> dict:
    """A Matcher token spec for a pattern word's alternatives; "trag*" is any word starting "trag"."""
    if not any(a.endswith("*") for a in alternatives):
        return {"IN": list(alternatives)}
    options = [re.escape(a[:-1]) + ".*" if a.endswith("*") else re.escape(a) for a in alternatives]
    return {"REGEX": "^(?:" + "|".join(options) + ")$"}


# ---------------------------------------------------------------------------------------------
# Pure helpers of the context rules
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


def _first_person(c: ContextWords, clause: Sequence[str], surface: Sequence[str]) -> bool:
    for i, w in enumerate(clause):
        if w in c.first_person:
            nxt = clause[i + 1] if i + 1 < len(clause) else None
            if w in c.first_person_possessive and (nxt in c.third_party or set(clause[i + 1:i + 3]) & c.third_party):
                continue  # "my sister", "my best friend" is someone else
            if w in c.first_person_object and i and clause[i - 1] in c.telling_verbs:
                continue  # "she told me"
            if w in c.first_person_independent and i and clause[i - 1] in c.of_words:
                continue  # "a friend of mine"
            return True
    return bool(c.first_person_forms & set(surface))


def _is_question(c: ContextWords, words: Sequence[str], surface: Sequence[str], start: int, end: int) -> bool:
    if "?" in words[start:end]:
        return True
    sentence = [i for i in range(start, end) if words[i].strip()]
    if not sentence:
        return False
    first = surface[sentence[0]]
    nxt = words[sentence[1]] if len(sentence) > 1 else None
    if first in c.wh_starters:
        return True
    # "can i...", "is it..." are questions; "cant swallow", "am having trouble" are statements.
    return first in c.aux_starters and nxt in c.subjects


def _hypothetical(c: ContextWords, before: Sequence[str], question: bool) -> bool:
    if c.conditionals & set(before) or any(_contains_phrase(before, p) for p in c.conditional_phrases):
        return True
    if not question:
        return False
    if any(_contains_phrase(before, p) for p in c.going_to_phrases):
        return True  # "am i going to have..."
    # "will i get...", "can botox make...", "could you end up with...": asking about a possibility.
    for i, w in enumerate(before):
        if w in c.modals and (i + 1 >= len(before) or before[i + 1] not in c.negation_after_modal):
            if c.acquire & set(before[i + 1:i + 4]) or (i + 1 < len(before) and before[i + 1] not in c.self_after_modal):
                return True
    return False


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


class RedFlagRules:
    """The rules of every language, each over its own pipeline, on every message: a Spanish report
    in a conversation taken for English (or the reverse) still escalates, whatever language the
    conversation is in. Where two languages' rules find the same words, the message's language
    decides how they were meant ("ni fiebre ni pus" is a Spanish negation, which the English rules
    do not know); where that language is unsure, or only one language's rules find the words, every
    finding counts, at the highest tier."""

    # lingua's confidence above which a message is taken to be in its language.
    CONFIDENT = 0.8

    def __init__(self, detectors: Sequence[RedFlagDetector]):
        self.detectors = tuple(detectors)
        self.tier_rank = self.detectors[0].tier_rank
        self.reassurance = Reassurance.from_rules([d.reassurance_words for d in self.detectors])
        # lingua's models load here, with the model, not in the first patient's turn (about a second).
        language.preload()

    def assess(self, text: str) -> Assessment:
        assessments = [detector.assess(text) for detector in self.detectors]
        found = [a for a in assessments if a.findings]
        if len(found) <= 1:
            one = found[0] if found else assessments[0]
            return replace(one, reassured=one.tier is None and self.reassurance(text))
        detection = language.detect(text)
        languages = [detector.language for detector in self.detectors]
        if detection.confidence >= self.CONFIDENT and detection.language in languages:
            own = assessments[languages.index(detection.language)]
            spans = [(f.start, f.end) for f in own.findings]
            for i, (detector, other) in enumerate(zip(self.detectors, assessments)):
                kept = tuple(f for f in other.findings if not any(f.start < e and b < f.end for b, e in spans))
                if other is not own and kept != other.findings:
                    assessments[i] = Assessment(kept, *detector.tier_of(kept))
        findings = tuple(f for a in assessments for f in a.findings)
        tiers = [a.tier for a in assessments if a.tier]
        tier = max(tiers, key=self.tier_rank.get) if tiers else None
        return Assessment(findings, tier, tuple(sorted({r for a in assessments for r in a.reasons})),
                          reassured=tier is None and self.reassurance(text))


@lru_cache(maxsize=None)
def load_detector(pipeline_path: str, rules_path: str, language: str = DEFAULT_LANGUAGE) -> RedFlagDetector:
    """One detector per (pipeline, rules, language) per process: building the matcher takes a moment."""
    return RedFlagDetector.from_files(Path(pipeline_path), Path(rules_path), language)


@lru_cache(maxsize=None)
def load_rules(pipelines: Tuple[Tuple[str, str], ...], rules_path: str) -> RedFlagRules:
    return RedFlagRules([load_detector(pipeline, rules_path, language) for language, pipeline in pipelines])


def configured_detector() -> RedFlagRules:
    """The rules of every language over the configured spaCy pipelines and rules file
    (SPACY_PIPELINE, SPACY_PIPELINE_ES, RED_FLAG_RULES): the one configuration every process uses."""
    settings = get_settings()
    return load_rules((("en", settings.spacy_pipeline), ("es", settings.spacy_pipeline_es)), settings.red_flag_rules)
