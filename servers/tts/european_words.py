"""The words of Spanish, German, French, Portuguese, Italian, Dutch, Swedish, Danish and
Norwegian that ``european.py`` writes: months, days, currencies, and the abbreviations
espeak spelt or stopped a sentence on ("Str." was "S T R.", "z. B." "zet. be", "Sr.
López" two sentences: "señor. López").
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Language:
    code: str
    months: tuple[str, ...]
    days: dict[str, str]  # a short day, written as a range's end ("Mo.-Fr."), to its name
    until: str  # between two days of a range
    plus: str  # before a country code
    # one, many, the hundredth's many, the "one" said before the currency's name
    currencies: dict[str, tuple[str, str, str, str]]
    number: str  # what "Nr.", "nº", "n°" are
    number_marks: str  # a pattern for those
    # between the whole and the cents ("25 euros con 50 céntimos"); none: the cents'
    # number alone after the whole ("25 Euro 50")
    cents_join: str = ""
    date_of: str = ""  # between a date's day, month and year ("15 de marzo de 2025")
    first_of_month: str = "1"  # the first, as a date says it ("premier", "1º": "primo")
    abbreviations: dict[str, str] = field(default_factory=dict)
    # Of those, the ones that may end a sentence ("usw."): their stop is kept before a
    # capital. Any other is followed by what it names ("Dr. Müller").
    may_end: frozenset[str] = frozenset()


SPANISH = Language(
    code="es",
    months=("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
            "septiembre", "octubre", "noviembre", "diciembre"),
    days={"Lun": "lunes", "Mar": "martes", "Mié": "miércoles", "Mie": "miércoles",
          "Jue": "jueves", "Vie": "viernes", "Sáb": "sábado", "Sab": "sábado",
          "Dom": "domingo"},
    until="a", plus="más",
    currencies={"€": ("euro", "euros", "céntimos", "un"),
                "$": ("dólar", "dólares", "centavos", "un"),
                "£": ("libra", "libras", "peniques", "una")},
    number="número", number_marks=r"\b(?:[Nn]\.?\s?º|[Nn]úm\.|[Nn]\.º)", cents_join="con",
    date_of="de",
    abbreviations={"Sr.": "señor", "Sra.": "señora", "Srta.": "señorita", "Dr.": "doctor",
                   "Dra.": "doctora", "Tel.": "teléfono", "Tlf.": "teléfono",
                   "Av.": "avenida", "Avda.": "avenida", "C/": "calle", "Ud.": "usted",
                   "Uds.": "ustedes", "aprox.": "aproximadamente", "pág.": "página",
                   "etc.": "etcétera", "p. ej.": "por ejemplo", "EE. UU.": "Estados Unidos",
                   "hrs.": "horas", "máx.": "máximo", "mín.": "mínimo",
                   "dcha.": "derecha", "izq.": "izquierda", "izda.": "izquierda",
                   "pta.": "puerta", "esc.": "escalera"},
    may_end=frozenset({"etc.", "EE. UU."}))
GERMAN = Language(
    code="de",
    months=("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
            "September", "Oktober", "November", "Dezember"),
    days={"Mo": "Montag", "Di": "Dienstag", "Mi": "Mittwoch", "Do": "Donnerstag",
          "Fr": "Freitag", "Sa": "Samstag", "So": "Sonntag"},
    until="bis", plus="plus",
    currencies={"€": ("Euro", "Euro", "Cent", "ein"),
                "$": ("Dollar", "Dollar", "Cent", "ein"),
                "£": ("Pfund", "Pfund", "Pence", "ein")},
    number="Nummer", number_marks=r"\b(?:Nr\.|No\.)",
    abbreviations={"Tel.": "Telefon", "Str.": "Straße", "str.": "straße", "z. B.": "zum Beispiel",
                   "z.B.": "zum Beispiel", "bzw.": "beziehungsweise", "ca.": "circa",
                   "usw.": "und so weiter", "inkl.": "inklusive", "Inkl.": "Inklusive",
                   "MwSt.": "Mehrwertsteuer", "Dr.": "Doktor", "Prof.": "Professor",
                   "Hr.": "Herr", "Hrn.": "Herrn", "ggf.": "gegebenenfalls",
                   "evtl.": "eventuell", "d. h.": "das heißt", "d.h.": "das heißt",
                   "u. a.": "unter anderem", "Std.": "Stunden", "Min.": "Minuten",
                   "Mio.": "Millionen", "Mrd.": "Milliarden", "vgl.": "vergleiche",
                   "bspw.": "beispielsweise", "max.": "maximal", "Tsd.": "Tausend"},
    may_end=frozenset({"usw.", "MwSt."}))  # ("5 Mio. Euro": the noun goes on)
FRENCH = Language(
    code="fr",
    months=("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
            "septembre", "octobre", "novembre", "décembre"),
    days={"lun": "lundi", "mar": "mardi", "mer": "mercredi", "jeu": "jeudi",
          "ven": "vendredi", "sam": "samedi", "dim": "dimanche"},
    until="au", plus="plus",
    currencies={"€": ("euro", "euros", "centimes", "un"),
                "$": ("dollar", "dollars", "cents", "un"),
                "£": ("livre", "livres", "pence", "une")},
    number="numéro", number_marks=r"\b(?:[Nn]°|[Nn]º|[Nn]o\.)", first_of_month="premier",
    abbreviations={"M.": "monsieur", "MM.": "messieurs", "Dr.": "docteur",
                   "Tél.": "téléphone", "Tel.": "téléphone", "tél.": "téléphone",
                   "env.": "environ", "av.": "avenue", "Av.": "avenue", "bd": "boulevard",
                   "Bd": "boulevard", "p. ex.": "par exemple", "etc.": "et cetera",
                   "min.": "minimum", "max.": "maximum"},
    may_end=frozenset({"etc."}))

PORTUGUESE = Language(
    code="pt",
    months=("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
            "setembro", "outubro", "novembro", "dezembro"),
    days={"seg": "segunda", "ter": "terça", "qua": "quarta", "qui": "quinta",
          "sex": "sexta", "sáb": "sábado", "sab": "sábado", "dom": "domingo"},
    until="a", plus="mais",
    currencies={"R$": ("real", "reais", "centavos", "um"),
                "€": ("euro", "euros", "cêntimos", "um"),
                "$": ("dólar", "dólares", "centavos", "um"),
                "£": ("libra", "libras", "pence", "uma")},
    number="número", number_marks=r"\b(?:[Nn]\.?\s?º|[Nn]úm\.)", cents_join="e",
    date_of="de", first_of_month="1º",
    abbreviations={"Sr.": "senhor", "Sra.": "senhora", "Srta.": "senhorita", "Dr.": "doutor",
                   "Dra.": "doutora", "Av.": "avenida", "R.": "rua", "tel.": "telefone",
                   "Tel.": "telefone", "aprox.": "aproximadamente", "etc.": "etcétera",
                   "p. ex.": "por exemplo", "pág.": "página", "máx.": "máximo",
                   "mín.": "mínimo", "Ltda.": "limitada"},
    may_end=frozenset({"etc.", "Ltda."}))

ITALIAN = Language(
    code="it",
    months=("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
            "settembre", "ottobre", "novembre", "dicembre"),
    days={"lun": "lunedì", "mar": "martedì", "mer": "mercoledì", "gio": "giovedì",
          "ven": "venerdì", "sab": "sabato", "dom": "domenica"},
    until="a", plus="più",
    currencies={"€": ("euro", "euro", "centesimi", "un"),
                "$": ("dollaro", "dollari", "centesimi", "un"),
                "£": ("sterlina", "sterline", "penny", "una")},
    number="numero", number_marks=r"\b(?:[Nn]\.|[Nn]r\.|[Nn]°)", cents_join="e",
    first_of_month="1º",
    abbreviations={"Sig.": "signor", "Sig.ra": "signora", "Sigg.": "signori",
                   "Dott.": "dottor", "Dott.ssa": "dottoressa", "Avv.": "avvocato",
                   "Ing.": "ingegner", "Prof.": "professor", "Prof.ssa": "professoressa",
                   "tel.": "telefono", "Tel.": "telefono", "ecc.": "eccetera",
                   "ad es.": "ad esempio", "pag.": "pagina", "V.le": "viale",
                   "P.za": "piazza", "C.so": "corso", "max.": "massimo"},
    may_end=frozenset({"ecc."}))

DUTCH = Language(
    code="nl",
    months=("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
            "september", "oktober", "november", "december"),
    days={"ma": "maandag", "di": "dinsdag", "wo": "woensdag", "do": "donderdag",
          "vr": "vrijdag", "za": "zaterdag", "zo": "zondag"},
    until="tot en met", plus="plus",
    currencies={"€": ("euro", "euro", "cent", "één"),
                "$": ("dollar", "dollar", "cent", "één"),
                "£": ("pond", "pond", "pence", "één")},
    number="nummer", number_marks=r"\b(?:[Nn]r\.|[Nn]o\.)",
    abbreviations={"bijv.": "bijvoorbeeld", "bv.": "bijvoorbeeld", "o.a.": "onder andere",
                   "d.w.z.": "dat wil zeggen", "i.p.v.": "in plaats van", "ca.": "circa",
                   "incl.": "inclusief", "excl.": "exclusief", "tel.": "telefoon",
                   "dhr.": "de heer", "mevr.": "mevrouw", "mw.": "mevrouw",
                   "enz.": "enzovoort", "etc.": "etcetera", "z.s.m.": "zo snel mogelijk",
                   "m.b.t.": "met betrekking tot", "t.a.v.": "ter attentie van",
                   "a.u.b.": "alstublieft", "evt.": "eventueel", "ong.": "ongeveer",
                   "max.": "maximaal", "blz.": "bladzijde", "p.p.": "per persoon",
                   "t/m": "tot en met", "z.o.z.": "zie ommezijde"},
    # (Not "incl.": "incl. BTW" goes on; nor the titles before a name.)
    may_end=frozenset({"enz.", "etc.", "a.u.b.", "p.p.", "z.s.m.", "z.o.z."}))

SWEDISH = Language(
    code="sv",
    months=("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
            "september", "oktober", "november", "december"),
    days={"mån": "måndag", "tis": "tisdag", "ons": "onsdag", "tors": "torsdag",
          "tor": "torsdag", "fre": "fredag", "lör": "lördag", "sön": "söndag"},
    until="till", plus="plus",
    currencies={"kr": ("krona", "kronor", "öre", "en"), "€": ("euro", "euro", "cent", "en"),
                "$": ("dollar", "dollar", "cent", "en"), "£": ("pund", "pund", "pence", "ett")},
    number="nummer", number_marks=r"\b(?:[Nn]r\.?)", cents_join="och",
    abbreviations={"t.ex.": "till exempel", "bl.a.": "bland annat", "osv.": "och så vidare",
                   "dvs.": "det vill säga", "d.v.s.": "det vill säga", "kl.": "klockan",
                   "fr.o.m.": "från och med", "t.o.m.": "till och med", "tel.": "telefon",
                   "s.k.": "så kallad", "m.m.": "med mera", "inkl.": "inklusive",
                   "exkl.": "exklusive", "resp.": "respektive", "ev.": "eventuellt",
                   "ca": "cirka", "etc.": "etcetera"},
    may_end=frozenset({"osv.", "m.m.", "etc."}))

DANISH = Language(
    code="da",
    months=("januar", "februar", "marts", "april", "maj", "juni", "juli", "august",
            "september", "oktober", "november", "december"),
    days={"man": "mandag", "tirs": "tirsdag", "tir": "tirsdag", "ons": "onsdag",
          "tors": "torsdag", "tor": "torsdag", "fre": "fredag", "lør": "lørdag",
          "søn": "søndag"},
    until="til", plus="plus",
    currencies={"kr": ("krone", "kroner", "øre", "en"), "€": ("euro", "euro", "cent", "en"),
                "$": ("dollar", "dollar", "cent", "en"), "£": ("pund", "pund", "pence", "et")},
    number="nummer", number_marks=r"\b(?:[Nn]r\.)", cents_join="og",
    abbreviations={"f.eks.": "for eksempel", "bl.a.": "blandt andet", "osv.": "og så videre",
                   "dvs.": "det vil sige", "ca.": "cirka", "kl.": "klokken", "tlf.": "telefon",
                   "inkl.": "inklusive", "ekskl.": "eksklusive", "evt.": "eventuelt",
                   "mht.": "med hensyn til", "pga.": "på grund af", "iht.": "i henhold til",
                   "vedr.": "vedrørende", "stk.": "stykker", "hr.": "herr", "etc.": "etcetera",
                   "mv.": "med videre"},
    may_end=frozenset({"osv.", "etc.", "mv."}))

NORWEGIAN = Language(
    code="nb",
    months=("januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
            "september", "oktober", "november", "desember"),
    days={"man": "mandag", "tir": "tirsdag", "ons": "onsdag", "tor": "torsdag",
          "fre": "fredag", "lør": "lørdag", "søn": "søndag"},
    until="til", plus="pluss",
    currencies={"kr": ("krone", "kroner", "øre", "en"), "€": ("euro", "euro", "cent", "en"),
                "$": ("dollar", "dollar", "cent", "en"), "£": ("pund", "pund", "pence", "ett")},
    number="nummer", number_marks=r"\b(?:[Nn]r\.)", cents_join="og",
    abbreviations={"f.eks.": "for eksempel", "bl.a.": "blant annet", "osv.": "og så videre",
                   "dvs.": "det vil si", "ca.": "cirka", "kl.": "klokken", "tlf.": "telefon",
                   "inkl.": "inklusive", "ekskl.": "eksklusive", "evt.": "eventuelt",
                   "mht.": "med hensyn til", "pga.": "på grunn av", "iht.": "i henhold til",
                   "vedr.": "vedrørende", "stk.": "stykk", "etc.": "etcetera",
                   "mv.": "med videre"},
    may_end=frozenset({"osv.", "etc.", "mv."}))

LANGUAGES = {lang.code: lang for lang in (SPANISH, GERMAN, FRENCH, PORTUGUESE, ITALIAN,
                                          DUTCH, SWEDISH, DANISH, NORWEGIAN)}
