"""People and organisations.

With ``--ner-model NAME`` (an installed spaCy pipeline such as ``en_core_web_sm``) they come from
its named-entity recogniser (PERSON, ORG), run with ``nlp.pipe`` over batches.  Without a model a
transparent rule-based fallback runs, and ``entities_source`` says which one produced the lists,
so a rule's guess is never presented as a model's output:

* persons: capitalised names right after a title or honorific ("Prime Minister Boris Johnson",
  "President Joe Biden", "Mr Cleverly", "Sir Ed Davey", "Dr Suhail Shaheen", "spokesman Ned Price");
  a bare surname ("Mr Biden") is merged into the full name when the article gives it;
* organisations: capitalised names ending in an organisation word ("Bank of England" is kept
  whole, "Sky News", "Labour Party", "Defense Ministry", "Microsoft Corp").

Its precision is measured on BBC articles by ``benchmarks/eval_tagging.py``.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

_NAME = r"[A-Z][a-z]*(?:[A-Z][a-z]+)?(?:['’-][A-Z]?[a-z]+)*"  # Boris, McCartney, O'Brien, Day-Lewis
_INITIAL = r"[A-Z]\.?"  # the W of George W Bush
_TITLES = (
    r"Prime Minister|Deputy Prime Minister|President|Vice President|Vice-President|Chancellor|Foreign Secretary|"
    r"Home Secretary|Health Secretary|Defence Secretary|Defense Secretary|Secretary of State|Secretary|"
    r"Minister|Senator|Sen\.|Governor|Gov\.|Mayor|Judge|Ambassador|Gen\.|Colonel|Captain|"
    r"Commissioner|Chairman|Chairwoman|Chief Executive|Spokesman|Spokeswoman|spokesman|spokeswoman|"
    r"spokesperson|chief executive|chairman|chairwoman|director|manager|coach|striker|midfielder|defender|"
    r"goalkeeper|singer|actor|actress|presenter|director-general|"
    r"King|Queen|Prince|Princess|Pope|Archbishop|Bishop|Rev\.?|Father|Sheikh|"
    r"Mr\.?|Mrs\.?|Ms\.?|Miss|Dr\.?|Sir|Dame|Lord|Lady|Prof\.?|Professor"
)
_PERSON_RE = re.compile(rf"\b(?:{_TITLES})\s+((?:{_NAME})(?:\s+(?:{_INITIAL}(?=\s+[A-Z][a-z])|{_NAME})){{0,2}})(?!\w)(?!['’](?!s\b))")
_ORG_WORDS = (
    r"Party|Ministry|Department|Office|Council|Commission|Committee|Agency|Authority|Association|Union|"
    r"Organisation|Organization|Federation|Foundation|Institute|University|College|Bank|Group|Corporation|"
    r"Corp|Inc|Ltd|Plc|PLC|LLC|Company|Co|Airlines|Airways|Motors|Holdings|Industries|Technologies|"
    r"Systems|Networks|Labs|Studios|Records|Pictures|News|Times|Post|Guardian|Telegraph|Club|Society|"
    r"Assembly|Parliament|Congress|Senate|Court|Police|Service|Services|Army|Navy|Force|Forces|Board|"
    r"Fund|Trust|Exchange|Institution|Alliance|Coalition|Movement|Front|Network"
)
_ORG_PART = r"(?:[A-Z][A-Za-z&'’-]*|of|for|the|de)"
_ORG_RE = re.compile(
    rf"\b((?:[A-Z][A-Za-z&'’-]*[ \t]+)(?:{_ORG_PART}[ \t]+){{0,4}}(?:{_ORG_WORDS})"
    rf"(?:[ \t]+(?:of|for)(?:[ \t]+the)?(?:[ \t]+[A-Z][A-Za-z&'’-]*){{1,3}})?)\b"  # "National Union of Journalists"
)
_ORG_LEAD_STOP = {"The", "A", "An", "In", "On", "At", "But", "And", "Or", "For", "From", "By", "With", "Of", "To",
                  "As", "His", "Her", "Its", "Their", "Our", "This", "That", "These", "Those", "When", "While",
                  "After", "Before", "If", "Last", "Next", "Every", "Each", "Both", "Former"}
_NOT_NAMES = {"The", "A", "An", "He", "She", "It", "They", "We", "I", "His", "Her", "In", "On", "At", "And",
              "But", "Or", "Of", "On", "This", "That", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
              "Saturday", "Sunday", "January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December", "General", "Minister", "Secretary", "President"}


_ORG_WORD_SET = frozenset(_ORG_WORDS.split("|"))
_HONORIFICS = frozenset("Mr Mrs Ms Miss Dr Sir Dame Lord Lady Prof Professor Rev".split())
_PERSONAL_TITLES = _HONORIFICS | frozenset(
    "President Governor Chairman Chairwoman Minister Secretary Chancellor Mayor Spokesman Spokeswoman Director "
    "Senator Judge Ambassador Commissioner Chief King Queen Prince Princess".split()
)
_TITLE_WORDS = frozenset(w for title in _TITLES.replace("\\", "").split("|") for w in title.rstrip(".?").split())


def _clean_name(name: str) -> Optional[str]:
    parts = [re.sub(r"['’]s$", "", part) for part in name.split()]
    if any(part in _ORG_WORD_SET for part in parts):
        return None  # "Justice Department", "Mr Smith Group" are not people
    while parts and parts[-1] in _NOT_NAMES:
        parts.pop()
    while parts and (parts[0] in _NOT_NAMES or parts[0].rstrip(".") in _HONORIFICS):
        parts.pop(0)
    if not parts:
        return None
    return " ".join(parts)


def rule_persons(text: str) -> list[str]:
    """Names after titles and honorifics, bare surnames merged into full names, first mention first."""
    found: list[str] = []
    for match in _PERSON_RE.finditer(text):
        name = _clean_name(match.group(1))
        if name and name not in found:
            found.append(name)
    full = [n for n in found if " " in n]
    out: list[str] = []
    for name in found:
        if " " not in name:
            longer = next((f for f in full if f.split()[-1] == name), None) or _given_name(text, name)
            name = longer or name
        if name not in out:
            out.append(name)
    return out


def _given_name(text: str, surname: str) -> Optional[str]:
    """'Boris Johnson' when the article writes the full name anywhere without a title."""
    for match in re.finditer(rf"\b([A-Z][a-z]+(?:-[A-Z][a-z]+)?) {re.escape(surname)}\b", text):
        given = match.group(1)
        if given not in _NOT_NAMES and given not in _TITLE_WORDS and given not in _HONORIFICS:
            return f"{given} {surname}"
    return None


def rule_organizations(text: str) -> list[str]:
    out: list[str] = []
    for match in _ORG_RE.finditer(text):
        words = match.group(1).split()
        while words and (words[0] in _ORG_LEAD_STOP or words[0] in _PERSONAL_TITLES or words[0][-2:] in ("'s", "’s")
                         or words[0].islower()):
            words.pop(0)
        if len(words) < 2:
            continue
        name = " ".join(words)
        if name not in out:
            out.append(name)
    return out


class RuleEntities:
    source = "rules"

    def extract(self, texts: Iterable[str]) -> list[tuple[list[str], list[str]]]:
        return [(rule_persons(t), rule_organizations(t)) for t in texts]


class SpacyEntities:
    """persons/organisations from a spaCy pipeline (loaded by name, or given, e.g. in tests)."""

    def __init__(self, model: str, nlp=None, batch_size: int = 32, max_chars: int = 20_000) -> None:
        if nlp is None:
            import spacy

            nlp = spacy.load(model, disable=["lemmatizer", "textcat"])
        self.nlp = nlp
        self.source = f"spacy:{model}"
        self.batch_size = batch_size
        self.max_chars = max_chars

    def extract(self, texts: Iterable[str]) -> list[tuple[list[str], list[str]]]:
        out = []
        for doc in self.nlp.pipe((t[: self.max_chars] for t in texts), batch_size=self.batch_size):
            persons: list[str] = []
            orgs: list[str] = []
            for ent in doc.ents:
                name = " ".join(ent.text.split())
                target = persons if ent.label_ == "PERSON" else orgs if ent.label_ == "ORG" else None
                if target is not None and name and name not in target:
                    target.append(name)
            out.append((persons, orgs))
        return out
