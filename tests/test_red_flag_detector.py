"""The red-flag detector on phrasings of our own: every report caught, at most 5% false alarms."""
import pytest

from botox_clinic.red_flags import NEGATED, OTHER_PERSON, PAST, QUESTION

E, U = "emergency", "urgent"

# First-person, current reports, with the least tier each must reach.
REPORTS = [
    # breathing
    ("i can't breathe", E), ("cant breathe properly", E), ("hard 2 breathe", E), ("its hard to breath", E),
    ("I'm struggling to breathe since this morning", E), ("i feel short of breath", E),
    ("shortness of breath after my injections", E), ("my breathing is laboured", E),
    ("breathing feels really difficult right now", E), ("i am having trouble breathing", E),
    ("I keep gasping for air", E), ("im wheezing a lot", E), ("my chest feels tight", E),
    ("i cnt breathe", E), ("having difficulty breathing tonight", E), ("i can barely breathe", E),
    ("no i cant breathe", E), ("breathing problems since yesterday", E), ("i have trouble brething", E),
    ("I'm not able to breathe properly", E), ("why can't i breathe", E),
    # swallowing
    ("i can't swallow", E), ("cant swallow anything", E), ("it's hard to swallow", E),
    ("I have trouble swallowing since my botox", E), ("swallowing is difficult", E),
    ("i keep choking on my food", E), ("I choked on water twice today", E), ("i'm drooling and can't swallow", E),
    ("food gets stuck in my throat", E), ("difficulty swallowing after the neck injections", E),
    ("the tablets just won't go down", E), ("my tea keeps going down the wrong way and I cough", E),
    # a question answered by a first-person statement of now
    ("can botox cause blurry vision? mine has been blurry since this morning", U),
    ("are hives normal after botox? I have them all over my arms right now", U),
    # "side" is no question word: "side effect" is, by "effect".
    ("face drooping on 1 side since lunch", U), ("lips swollen on both sides rn", E),
    ("i swalow with dificulty", E), ("can no longer swallow pills", E), ("is it normal that i can't swallow?", E),
    ("I'm choking", E), ("hard to swallow since yesterday's botox", E),
    # speaking
    ("my speech is slurred", E), ("i'm slurring my words", E), ("I can't talk properly", E),
    ("i'm having trouble speaking", E), ("my voice is gone", E), ("i lost my voice after the injections", E),
    ("my voice sounds really different today", E), ("words come out wrong", E), ("cnt talk right", E),
    ("hard to get my words out", E), ("my husband says im slurring", E),
    # severe allergic reaction
    ("my throat is closing", E), ("my throat feels tight", E), ("my tongue is swelling up", E),
    ("my lips are swollen", E), ("my face is swelling up", E), ("i think i'm having an allergic reaction", E),
    ("i have hives and i'm wheezing", E), ("lips puffy and throat tight", E), ("i feel faint", E),
    ("i feel fiant", E), ("i nearly passed out", E), ("i feel light headed and like i might faint", E), ("my face is all puffy", E),
    # stroke-like: face drooping with weakness or speech trouble
    ("my face is drooping and my arm feels weak", E), ("one side of my face droops and i can't talk", E),
    # eyelid / eyebrow
    ("my eyelid is drooping", U), ("my eye lid droops", U), ("droopy eyelid since the treatment", U),
    ("my eyebrow has dropped", U), ("my brow is sagging", U), ("i can't open my eye fully", U),
    ("my left eye is drooping", U), ("eyelids feel heavy and droopy", U), ("I have a droopy eye", U),
    ("could my droopy eyelid be from botox?", U),
    # vision / eye
    ("i'm seeing double", U), ("seeing double since the shots", U), ("my vision is blurry", U),
    ("everything looks blurry", U), ("i have blurred vision", U), ("double vision since tuesday", U),
    ("i can't see properly", U), ("my eye won't close", U), ("i can't close my eye", U),
    ("my eye is dry and painful", U), ("my vison is blurry", U),
    # weakness away from the site
    ("my legs feel weak", U), ("my arms are weak", U), ("i feel weak all over", U),
    ("i can't lift my arm", U), ("my whole body feels weak", U), ("i cant hold my head up", U),
    ("weakness in my hands since the botox", U), ("my legs keep giving out", U),
    # bladder
    ("i can't pee", U), ("i can't control my bladder", U), ("i'm leaking urine", U), ("trouble peeing since botox", U),
    ("I wet myself", U), ("i can't urinate", U),
    # infection at the site
    ("the injection site is oozing pus", U), ("there's pus where they injected", U),
    ("the redness is spreading", U), ("the spot is red and hot", U), ("i have a fever since the injections", U),
    ("the area is getting redder and hot to the touch", U), ("i think the injection site is infected", U),
    # carers reporting now
    ("my mom can't breathe after her botox", E), ("my husband cant swallow", E),
    # upgraded by worsening
    ("my eyelid is drooping and it's getting worse", E),
]

# Look-alikes that must not escalate, with the context the detector should recognise
# (None where no red-flag symptom is named at all).
LOOKALIKES = [
    # questions and hypotheticals
    ("can botox make it hard to swallow?", QUESTION), ("does botox cause trouble breathing", QUESTION),
    ("what if i have trouble swallowing after", QUESTION), ("is difficulty swallowing a side effect?", QUESTION),
    ("can you get a droopy eyelid from botox", QUESTION), ("what should i do if i can't breathe", QUESTION),
    ("will i have trouble breathing after botox?", QUESTION), ("could botox give me double vision?", QUESTION),
    ("is blurry vision common after botox", QUESTION), ("how common are droopy eyelids", QUESTION),
    ("droopy eyelid side effect", QUESTION),
    ("can botox cause double vision? I'm booked in for today", QUESTION),
    ("can botox make you faint? I'm fine now, just curious", QUESTION),
    ("can botox cause blurred vision? I'm having it done today", QUESTION),
    ("is a droopy eyelid common? I don't have one now", QUESTION),
    ("should i call 911 if my throat feels tight?", QUESTION), ("in case i get a droopy eye, who do i call", QUESTION),
    ("does water ever go down the wrong way after neck botox?", QUESTION), ("the swelling won't go down", None),
    ("what are the chances of trouble swallowing", QUESTION), ("can botox spread and cause muscle weakness?", QUESTION),
    ("is slurred speech a sign of a problem", QUESTION), ("botox can cause difficulty breathing in rare cases right", QUESTION),
    ("what happens if my eyelid droops", QUESTION), ("can i have trouble swallowing after botox?", QUESTION),
    ("does it ever cause bladder problems", QUESTION), ("am i going to have trouble breathing", QUESTION),
    ("how do i know if i'm having an allergic reaction", QUESTION), ("what does a droopy eyelid look like", QUESTION),
    ("is it possible to get double vision", QUESTION), ("can botox affect your vision", None),
    # negations
    ("no breathing problems at all", NEGATED), ("i don't have any trouble swallowing", NEGATED),
    ("no trouble breathing, just a small bruise", NEGATED), ("I'm not having difficulty swallowing", NEGATED),
    ("never had trouble breathing", NEGATED), ("no droopy eyelid or anything", NEGATED),
    ("my breathing is not difficult", NEGATED), ("i have no double vision", NEGATED),
    ("without any problems swallowing", NEGATED), ("no issues with breathing", NEGATED),
    ("zero trouble speaking", NEGATED), ("there's no pus or anything", NEGATED),
    # other people
    ("my sister couldn't swallow after her botox", OTHER_PERSON), ("my friend got a droopy eyelid last year", OTHER_PERSON),
    ("my mum had double vision after hers, is that common?", OTHER_PERSON),
    ("a friend said she had trouble breathing after botox", OTHER_PERSON),
    ("my cousin's eyelid drooped for a month", OTHER_PERSON), ("does anyone get trouble swallowing?", OTHER_PERSON),
    ("people say botox can make it hard to swallow", OTHER_PERSON),
    # past, resolved
    ("i had trouble swallowing years ago but it went away", PAST), ("my eyelid drooped last time but it's fine now", PAST),
    ("i used to have double vision as a kid", PAST), ("i had blurry vision once, it resolved", PAST),
    ("my voice was hoarse last year, better now", PAST),
    # idioms, routine reactions and everyday things
    ("the results took my breath away", None), ("that price is hard to swallow", None),
    ("i can't speak highly enough of your staff", None), ("i have a small bruise", None),
    ("a little redness at the injection site", None), ("my forehead is a bit swollen where they injected", None),
    ("slight swelling on my forehead", None), ("tiny red bumps", None), ("i have a mild headache", None),
    ("it's a bit tender", None), ("my forehead feels a bit heavy", None), ("the spots are slightly pink", None),
    ("faint lines on my forehead", None), ("i use eye drops every day", None), ("i can't wait for my appointment", None),
    ("i can't see any difference yet", None), ("i'm dying to try botox", None), ("i can't stand needles", None),
    ("i couldn't stop smiling after my results", None), ("can i go in a hot tub after botox", None),
    ("how long should i wait to drink alcohol", None), ("my eyes look tired", None),
    ("i sweat too much", None), ("can i lie down after botox", None),
]


def test_enough_phrasings():
    assert len(REPORTS) + len(LOOKALIKES) >= 150


@pytest.mark.parametrize("text,tier", REPORTS)
def test_every_report_escalates_at_least_to_its_tier(detector, text, tier):
    assessment = detector.assess(text)
    assert assessment.tier is not None, f"missed report: {text!r} -> {assessment.findings}"
    assert (assessment.tier == "emergency") or tier == "urgent", f"{text!r} only {assessment.tier}"


def test_false_escalations_at_most_five_percent(detector):
    false_alarms = [text for text, _ in LOOKALIKES if detector.assess(text).is_report]
    assert len(false_alarms) <= 0.05 * len(LOOKALIKES), false_alarms


@pytest.mark.parametrize("text,context", [(t, c) for t, c in LOOKALIKES if c is not None])
def test_lookalikes_are_recognised_for_what_they_are(detector, text, context):
    contexts = {f.context for f in detector.assess(text).findings}
    assert contexts == {context}, f"{text!r} -> {detector.assess(text).findings}"


@pytest.mark.parametrize("text", ["when should i see fewer migraines", "i get fewer headaches now"])
def test_english_words_are_not_taken_for_typos_of_a_symptom(detector, text):
    """"fewer" is one letter from "fever", and an English word, not a misspelling of it."""
    assert detector.assess(text).findings == ()


def test_questions_name_the_symptom_so_the_reply_carries_the_safety_net(detector):
    assessment = detector.assess("can botox make it hard to swallow?")
    assert assessment.mentions_red_flag and not assessment.is_report


def test_routine_reactions_are_not_even_mentions(detector):
    for text in ("i have a small bruise", "a little redness at the injection site", "tiny red bumps"):
        assert not detector.assess(text).mentions_red_flag, text


def test_a_report_after_a_negated_symptom_still_counts(detector):
    assessment = detector.assess("no trouble breathing but i can't swallow")
    assert assessment.tier == "emergency"
    assert [f.context for f in assessment.findings if f.category == "breathing"] == [NEGATED]


def test_reasons_name_the_symptoms_for_the_clinician(detector):
    assert detector.assess("i'm seeing double").reasons == ("double or blurred vision",)
    combined = detector.assess("my face is drooping and my arm feels weak")
    assert "stroke-like signs (face drooping with weakness or speech trouble)" in combined.reasons


@pytest.mark.parametrize("text", ["", "   ", "😀😀😀", "¿Qué es el bótox?", "a " * 5000, "\x00\x01binary"])
def test_odd_input_is_assessed_without_error(detector, text):
    assert detector.assess(text).tier is None


@pytest.mark.parametrize("text", [
    "throat feels totally normal, tongue normal size, all good here",
    "I'm fine.",
    "respiro bn, trago bn, hablo bn. todo chido, gracias!!",
    "Estoy bien! ¿A qué hora abren mañana?",  # a question does not count either way
])
def test_a_message_that_only_says_things_are_normal_is_reassuring(bilingual_rules, text):
    assert bilingual_rules.assess(text).reassured


@pytest.mark.parametrize("text", [
    "I can't see normally",  # negated
    "my eyes feel normal but my pills get stuck halfway",  # one clause says nothing is normal
    "cant focus my eyes on nothin since tues is that normal",  # a question without its mark
    "se m inflo la cara bien feo",  # "bien" as "very", not "well"
    "my fine lines are softer",  # "fine" counts only on its own
    "is it normal that everything looks double?",
])
def test_a_message_that_does_not_only_say_things_are_normal_is_not(bilingual_rules, text):
    assert not bilingual_rules.assess(text).reassured


def test_a_rules_report_is_never_marked_reassuring(bilingual_rules):
    assert not bilingual_rules.assess("my breathing is fine, I can't swallow").reassured
    assert not bilingual_rules.assess("respiro bien, no puedo tragar").reassured


@pytest.mark.parametrize("text,tier", [
    ("la sopa se me escurre por un lado de la boca", U), ("solo se me levanta un lado cuando sonrío", U),
    ("no me alcanza el aire ni sentada", E), ("siento un peso encima del pecho y respiro cortito", E),
    ("quiero orinar y no sale ni una gota", U), ("se me escapa la orina sin darme cuenta", U),
    ("me siento toda aguada, como muñeca de trapo", E), ("tengo los ojos hinchados, casi no los abro", E),
    ("se me va la luz cada vez que me paro", E), ("el ojo izquierdo se ve mas chiquito que el derecho", U),
])
def test_spanish_everyday_descriptions_are_reports(bilingual_rules, text, tier):
    rank = bilingual_rules.tier_rank
    assert rank.get(bilingual_rules.assess(text).tier, 0) >= rank[tier]


@pytest.mark.parametrize("text,reported", [
    # not being able to hold urine, in Spanish, and holding it normally
    ("no puedo controlar la orina desde ayer", True), ("me cuesta aguantar la pipi", True),
    ("puedo controlar la orina sin problema", False), ("no me cuesta controlar la orina", False),
    # a recent treatment's time is not the symptom's; a symptom that was is past
    ("I can't lift my head off the pillow, I had neck Botox for dystonia last week", True),
    ("my arm has gone weak and heavy since my spasticity injections last week", True),
    ("se me cayó el párpado, me pusieron bótox en la frente la semana pasada", True),
    ("my eyelid drooped last week but it's fine now", False),
    ("I had a droopy eyelid after botox three years ago, so please be careful", False),
    ("la semana pasada se me cayó el párpado", False),
])
def test_when_a_symptom_is_now_and_whether_it_is_there(bilingual_rules, text, reported):
    assert bilingual_rules.assess(text).tier == (U if reported else None)


@pytest.mark.parametrize("text,reported", [
    # the Spanish "me late" (it throbs) and the English "chills" of an infection, not "late" or "chilling"
    ("how late are you open on thursdays?", False), ("just chilling at home after my botox", False),
    ("I've got the chills and the spot is hot", True), ("me late la frente y está caliente", True),
])
def test_infection_words_are_not_everyday_words(bilingual_rules, text, reported):
    assert bool(bilingual_rules.assess(text).findings) == reported
