"""PII redaction: regular expressions with checksums, plus a small name finder.

    >>> redact_pii("Mail jane.doe@example.com or call +44 20 7946 0958.").text
    'Mail [EMAIL] or call [PHONE].'
    >>> redact_pii("Card 4111 1111 1111 1111, not 4111 1111 1111 1112.").text
    'Card [CARD], not 4111 1111 1111 1112.'
    >>> redact_pii("Ask Maria Lopez at 12 Baker Street.").text
    'Ask [NAME] at [ADDRESS].'

What each kind means here:

- EMAIL: `local@domain.tld`.
- CARD: 13-19 digits, optionally grouped by spaces or dashes, that pass the Luhn checksum
  (ISO/IEC 7812), so order numbers and dates of the same length stay.
- IBAN: two letters, two check digits, 11-30 alphanumerics, that pass ISO 13616's mod-97 check.
- PHONE: international (`+CC ...`, `00CC ...`) or national numbers with 7-15 digits in groups,
  `(555) 123-4567`, `020 7946 0958`; bare digit runs without a separator or a `+` are left alone
  (they are usually quantities or ids).
- ADDRESS: a house number, one to four capitalised words and a street type (`Street`, `Ave`,
  `Straße`, ...), or `Rue/Via/Calle ...` followed by words.
- NAME: this is the "light NER", and it is a heuristic, not a trained model (no NER model is
  installed and none may be downloaded): a capitalised word after an honorific (`Dr. Okafor`), or
  a first name from `FIRST_NAMES` followed by capitalised surnames (`Maria Lopez`), or a known
  first name alone when it is followed by a verb-like lowercase word. It misses names outside the
  list and can hit words that are also first names at the start of a sentence ("Will", "May"),
  which are excluded unless a surname follows. `evals.guardrails` measures its precision and recall.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}\b")
PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"(?:\+|00)\d{1,3}[ .\-]?(?:\(0?\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{2,4}){1,4}"   # +44 20 7946 0958, 0049 30 1234567
    r"|\(\d{2,5}\)[ .\-]?\d{3,4}[ .\-]?\d{3,4}"                                        # (555) 123-4567
    r"|0\d{1,4}[ .\-]\d{3,4}[ .\-]?\d{3,4}"                                            # 020 7946 0958
    r"|\d{3}[.\-]\d{3}[.\-]\d{4}"                                                      # 555-123-4567
    r")(?!\w)")
STREET_TYPES = (r"street|st|road|rd|avenue|ave|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|square|sq|way|"
                r"terrace|close|crescent|highway|hwy|parkway|pkwy|strasse|straße|str|weg|gasse|platz|allee")
ADDRESS = re.compile(
    rf"\b\d{{1,5}}[a-zA-Z]?,?\s+(?:[A-Z][\w'.-]*\s+){{1,4}}(?i:{STREET_TYPES})\b"
    rf"|\b(?:[A-Z][\w'-]*)(?i:strasse|straße|weg|gasse|platz|allee)\s+\d{{1,5}}[a-z]?\b"
    rf"|\b(?i:rue|via|calle|avenida|rua)\s+(?:(?:de|del|la|le|des|da|do|di)\s+)?[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*(?:,?\s+\d{{1,5}})?")
HONORIFIC_NAME = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Mlle|Sr|Sra)\.?\s+[A-Z][a-zA-Z'-]+(?:\s+[A-Z][a-zA-Z'-]+)?")
CAPITALISED = re.compile(r"\b[A-Z][a-z'’-]+(?:\s+(?:van|von|de|da|del|di|le|la|al|bin|O'|Mc)?\s*[A-Z][a-z'’-]+){0,2}")

# A first-name list written for this project: common given names across several languages. Names
# that are also frequent English words (Will, May, June, Mark, Bill, Grace, Rose, Frank) only
# count when a capitalised surname follows.
FIRST_NAMES = frozenset("""
aaron abdul adam adrian ahmed aisha alan albert alejandro alex alexander alexandra ali alice alicia amanda amelia
amir amy ana andrea andrew angela anna anne anthony antonio arjun ava barbara ben benjamin beth bob brian bruno
carla carlos carmen caroline catherine charles charlie charlotte chen chloe chris christina christopher claire
daniel david deborah diana diego dmitri elena elizabeth ella emily emma eric erik ethan eva fatima felix fernando
fiona francesca francesco gabriel george giulia hannah hans harry hassan helen henry hiroshi ian igor isabella
ivan jack jacob james jan jane jason javier jennifer jessica jin joan john jonathan jorge jose joseph juan julia
julian karen kate katherine kenji kevin laura lea leila leo liam lily linda lisa lucas lucia luis luke maria marie
marta martin mary matteo matthew max maya mei michael michelle miguel mohammed muhammad nadia natalia nathan
nicholas nicole noah olga oliver olivia omar oscar pablo patricia paul pedro peter pierre priya rachel rafael raj
rebecca ricardo richard robert rosa ryan sakura samuel sara sarah sebastian sergei sofia sophia sophie stefan
stephen susan thomas tom tomas victor victoria william wei yuki yusuf zara zoe
will may june mark bill grace rose frank
""".split())  # noqa: SIM905 - a block of names is easier to read and edit
WORD_NAMES = frozenset({"will", "may", "june", "mark", "bill", "grace", "rose", "frank"})

LABELS = {"email": "[EMAIL]", "card": "[CARD]", "iban": "[IBAN]", "phone": "[PHONE]", "address": "[ADDRESS]",
          "name": "[NAME]"}
ALL_KINDS = tuple(LABELS)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a card number (ISO/IEC 7812).

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    numbers = [int(d) for d in digits if d.isdigit()]
    if len(numbers) < 13:
        return False
    total = 0
    for i, n in enumerate(reversed(numbers)):
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """ISO 13616 mod-97 check.

    >>> iban_valid("GB82 WEST 1234 5698 7654 32"), iban_valid("GB82 WEST 1234 5698 7654 33")
    (True, False)
    """
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


@dataclass(frozen=True)
class PiiSpan:
    kind: str
    start: int
    end: int
    text: str


@dataclass
class Redaction:
    """The redacted `text` and the spans found in the original (kind, offsets, text)."""

    text: str
    spans: list[PiiSpan] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        return sorted({s.kind for s in self.spans})


def _name_spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in HONORIFIC_NAME.finditer(text)]
    for match in CAPITALISED.finditer(text):
        words = [(m.start() + match.start(), m.end() + match.start(), m.group(0))
                 for m in re.finditer(r"\S+", match.group(0))]
        # "Ask Maria Lopez": the name starts at the first listed first name of a capitalised run
        first = next((i for i, (_, _, w) in enumerate(words) if w.lower().strip("'’") in FIRST_NAMES), None)
        if first is None:
            continue
        name = words[first:first + 3]
        if len(name) == 1 and name[0][2].lower() in WORD_NAMES:
            continue  # "Will you ...", "May I ..." -- a word, not a name, unless a surname follows
        spans.append((name[0][0], name[-1][1]))
    return spans


def find_pii(text: str, kinds: tuple[str, ...] = ALL_KINDS) -> list[PiiSpan]:
    """Non-overlapping PII spans in `text`, earlier and longer first (an email beats the name in it)."""
    found: list[tuple[int, int, str]] = []
    if "email" in kinds:
        found += [(*m.span(), "email") for m in EMAIL.finditer(text)]
    if "iban" in kinds:
        found += [(*m.span(), "iban") for m in IBAN.finditer(text) if iban_valid(m.group(0))]
    if "card" in kinds:
        found += [(*m.span(), "card") for m in CARD.finditer(text) if luhn_valid(m.group(0))]
    if "phone" in kinds:
        found += [(*m.span(), "phone") for m in PHONE.finditer(text)
                  if 7 <= sum(c.isdigit() for c in m.group(0)) <= 15]
    if "address" in kinds:
        found += [(*m.span(), "address") for m in ADDRESS.finditer(text)]
    if "name" in kinds:
        found += [(*span, "name") for span in _name_spans(text)]
    priority = {kind: i for i, kind in enumerate(ALL_KINDS)}
    found.sort(key=lambda f: (priority[f[2]], f[0], -(f[1] - f[0])))
    taken: list[PiiSpan] = []
    for start, end, kind in found:
        if all(end <= s.start or start >= s.end for s in taken):
            taken.append(PiiSpan(kind, start, end, text[start:end]))
    return sorted(taken, key=lambda s: s.start)


def redact_pii(text: str, kinds: tuple[str, ...] = ALL_KINDS) -> Redaction:
    """Replace each PII span by its label (`[EMAIL]`, `[PHONE]`, `[NAME]`, ...)."""
    spans = find_pii(text, kinds)
    pieces, last = [], 0
    for span in spans:
        pieces += [text[last:span.start], LABELS[span.kind]]
        last = span.end
    pieces.append(text[last:])
    return Redaction("".join(pieces), spans)
