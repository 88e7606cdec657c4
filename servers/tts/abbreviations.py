"""English abbreviations said as their words ("Dr." is "Doctor", "Ch. 5" "Chapter 5"),
and "number" where "no." or "#" names one ("order no. 7781", "Ref# 12345"): espeak read
"no." as the word "no", ended the sentence at its stop, and said "hash" for the "#".
Used by ``normalize.py`` before its English rules, which then read the numbers.
"""

from __future__ import annotations

import re

from .stops import kept_stop

ABBREVIATIONS = {
    "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Dr.": "Doctor", "Prof.": "Professor",
    "Sr.": "Senior", "Jr.": "Junior", "St.": "Saint", "Mt.": "Mount", "Ave.": "Avenue",
    "Rd.": "Road", "Blvd.": "Boulevard", "Inc.": "Incorporated", "Ltd.": "Limited",
    "Co.": "Company", "Corp.": "Corporation", "vs.": "versus", "etc.": "et cetera",
    "e.g.": "for example", "i.e.": "that is", "approx.": "approximately",
    "Approx.": "Approximately", "Dept.": "Department",
    "Jan.": "January", "Feb.": "February", "Mar.": "March", "Apr.": "April", "Jun.": "June",
    "Jul.": "July", "Aug.": "August", "Sept.": "September",
    "Oct.": "October", "Nov.": "November", "Dec.": "December", "min.": "minutes",
    "hr.": "hour", "hrs.": "hours", "No.": "number", "incl.": "including",
    "ext.": "extension", "Ext.": "extension", "Apt.": "Apartment", "Apt": "Apartment",
    # Ranks before a name ("Lt. Col. Smith" was three sentences), limits, "with" and
    # "not applicable" as written in a hurry (each was read "W slash ...").
    "Lt.": "Lieutenant", "Col.": "Colonel", "Gen.": "General", "Sgt.": "Sergeant",
    "Capt.": "Captain", "Min.": "Minimum", "Max.": "Maximum", "max.": "maximum",
    "w/o": "without", "w/": "with", "N/A": "not applicable", "exp.": "expiry",
    # Before a number in a document's references ("Ch. 5" was "see aitch five").
    "Vol.": "Volume", "Ch.": "Chapter", "Fig.": "Figure", "Tel.": "Telephone",
    "int'l": "international", "Int'l": "International", "qty": "quantity", "Qty": "Quantity",
    "appt.": "appointment", "appt": "appointment", "Appt.": "Appointment",
    "y/y": "year over year", "YoY": "year over year", "m/m": "month over month",
    "49ers": "Forty-Niners", "76ers": "Seventy-Sixers",  # teams ("forty-nine ers")
    "Msg": "Message", "msg": "message",
    "Pub.": "Publication", "para.": "paragraph", "Para.": "Paragraph", "Rm.": "Room",
    "Rm": "Room",
}
_ABBREV = re.compile(r"(?<!\w)(" + "|".join(re.escape(a) for a in ABBREVIATIONS)
                     + r")(?=[\s,;:]|$|(?<![.])[.!?])")  # "N/A." too; "Jr.." is no word
# Words that go before what they name: their period never ends a sentence ("Dr. Lee").
BEFORE_A_NAME = {"Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.", "Mt.", "vs.", "e.g.", "i.e.",
                 "approx.", "Approx.", "Lt.", "Col.", "Gen.", "Sgt.", "Capt.", "Min.", "Max.",
                 "max.", "Vol.", "Ch.", "Fig.", "Tel.", "Pub.", "para.", "Para.", "Rm."}
# "No. 5", "no. 55123", and "no." after what has a number ("Your order no. is 7781"): it
# was the word "no", and its stop ended the sentence there.
_NO_NUMBER = re.compile(r"(?<!\w)[Nn]o\.(?=\s*[\d#])")
# ("case # is ...": "number", not "hash".)
_NAMED_NO = re.compile(r"\b(?P<w>(?i:order|account|policy|ticket|invoice|claim|case|booking|"
                       r"confirmation|member|serial|reference|ref|flight|room|item|model|"
                       r"part|PO|group|prescription|Rx|patient|customer|transaction|"
                       r"tracking|routing|plan) )(?:[Nn]o\.|#(?=\s))")
# "See pp. 45-67", "p. 12": pages, before a number ("pp" was said).
_PAGES = re.compile(r"(?<![\w.])(?P<p>pp?)\.\s?(?=\d)")
# "meter # is 443": any word's "#" before a number, alone between spaces.
_SPACED_HASH = re.compile(r"(?<=[A-Za-z] )#(?=\s(?:is\s|:\s?)?\d)")
# "Ref# 12345", "Order#7781": a "#" written onto the word before a number.
_WORD_HASH = re.compile(r"(?<=[A-Za-z])#\s?(?=\d)")


# "Est. wait", "est. delivery": estimated, before what is estimated; "Est. 1998" (a
# business's founding) is established. Both were "est", and the stop ended a sentence.
# "$3.99 ea.": each, after a price ("ea" before).
_EST = re.compile(r"\b(?:(?P<e>[Ee])st\.(?= [a-z])|Est\.(?= (?:19|20)\d\d\b)|"
                  r"(?<=\d )(?P<each>ea)\b\.?(?=[\s,;:)]|$))")


def _est(m: re.Match[str]) -> str:
    if m["each"]:
        return "each" + kept_stop(m)
    return f"{m['e']}stimated" if m["e"] else "Established"


# "Ctrl+Alt+Del", "Cmd+Shift+S": a key combination's short names as the keys are called
# ("Cmd" was "C M D", "Del" "del", "Esc" "ess").
_KEY_NAMES = {"Ctrl": "Control", "Cmd": "Command", "Opt": "Option", "Del": "Delete",
              "Esc": "Escape", "Win": "Windows", "PgUp": "Page Up", "PgDn": "Page Down",
              "Ins": "Insert", "Bksp": "Backspace"}
_KEY = r"(?:" + "|".join(_KEY_NAMES) + r"|Alt|Shift|Tab|Enter|Space|F\d{1,2}|[A-Z0-9])"
# (Five keys at most: unbounded, a long run of "Ctrl+Alt+" was quadratic, 0.9 s.)
_KEYS = re.compile(rf"\b(?=[A-Za-z]*\s?\+)(?:{_KEY}\s?\+\s?){{1,4}}{_KEY}\b(?!\+)")


def _keys(m: re.Match[str]) -> str:
    keys = re.split(r"\s?\+\s?", m[0])
    if not any(k in _KEY_NAMES or k in ("Alt", "Shift") for k in keys):
        return m[0]  # "A+B", "C+": no key combination
    return " plus ".join(_KEY_NAMES.get(k, k) for k in keys)


def name_numbers(text: str) -> str:
    text = _NO_NUMBER.sub("number", _NAMED_NO.sub(r"\g<w>number", text))
    text = _SPACED_HASH.sub("number", text)
    text = _PAGES.sub(lambda m: "pages " if m["p"] == "pp" else "page ", text)
    return _WORD_HASH.sub(" number ", text)


def _abbreviation(m: re.Match[str]) -> str:
    if m[1] == "No.":  # only "No. 5" is "number"; a sentence-final "No." is the word
        return m[1]
    # The abbreviation's period may also end the sentence ("etc. Anything else?", "Acme
    # Inc. We"): kept where the text ends or a capital follows, but not after a word
    # that goes before a name.
    if m[1] in BEFORE_A_NAME:
        return ABBREVIATIONS[m[1]] + ("." if not m.string[m.end():].strip() else "")
    return ABBREVIATIONS[m[1]] + kept_stop(m)


def expand_abbreviations(text: str) -> str:
    return _ABBREV.sub(_abbreviation, _EST.sub(_est, _KEYS.sub(_keys, text)))
