"""The text pipeline on its own: normalisation, piece planning, instructions."""

from __future__ import annotations

import unicodedata

import pytest

from servers.tts import normalize as normalize_module
from servers.tts import numerals as numerals_module
from servers.tts.instructions import style_for
from servers.tts.normalize import normalize
from servers.tts.text import MAX_PIECE, plan


@pytest.mark.parametrize("text, spoken", [
    ("It costs $12.50.", "It costs twelve dollars and fifty cents."),
    ("$1 and $3.5 million", "one dollar and three point five million dollars"),
    ("€5 or £1.01", "five euros or one pound and one penny"),
    # A scale written onto an amount ("$5M" was "$five M", "$1.5B" "one dollar.five B").
    ("$5M, $1.5B and -$20K.",
     "five million dollars, one point five billion dollars and minus twenty thousand dollars."),
    ("£2bn or €3.2Bn, $5m", "two billion pounds or three point two billion euros, five million dollars"),
    # The mark after a space, as news writes it ("$5 M" was "five dollars M"); a lone
    # lower-case letter after an amount is left alone ("a $5 t-shirt").
    ("$5 M, £2 bn and $1.5 B; a $5 t-shirt", "five million dollars, two billion pounds and one "
     "point five billion dollars; a five dollars t-shirt"),
    ("$1.234 a share", "one point two three four dollars a share"),  # more than cents
    ("$0.99 or £0.01, incl. tax, ext. 12, Apt 4", "ninety-nine cents or one penny, including "
     "tax, extension one two, Apartment four"),
    ("Save 45% today", "Save forty-five percent today"),
    ("Come at 3:30 pm.", "Come at three thirty P M."),
    ("Open at 9 a.m. Then close.", "Open at nine A M. Then close."),
    # A capital that goes on after the stop (a day, a month, a time zone, an address's
    # unit) is no new sentence: it was "nine A M. Monday", "Main Street. Apartment".
    ("Open 9 a.m. to 5 p.m. Monday, call 5 p.m. EST or Dec. 3 at 9 a.m. May 5. Then",
     "Open nine A M to five P M Monday, call five P M EST or December third at nine A M "
     "May fifth. Then"),
    ("Visit 123 Main St. Apt 4B or at 9 a.m. May I help?", "Visit one twenty-three Main "
     "Street Apartment four B or at nine A M. May I help?"),
    # A short day in a schedule is the day ("Sat" and "Fri" were "sat" and "fry"); "Sun"
    # alone, or "the Sun.", is not.
    ("Open Fri, Sat 10-2, Wed. and Sun. Or Sat. Closed Tue & Thu. See the Sun.",
     "Open Friday, Saturday ten to two, Wednesday and Sunday. Or Saturday. Closed Tuesday "
     "and Thursday. See the Sun."),
    # A month and day after what a date follows, a day's name or another date ("three
    # quarters" and "twelve/thirty-one" before); "by 1/2" and "3/4 cup" stay fractions.
    ("See you Monday, 3/4. Valid through 12/31, from 12/24 to 12/26, between 5/1 and 5/3, "
     "closed 1/1-1/2, expires 12/2026; by 1/2 or 3/4 cup",
     "See you Monday, March fourth. Valid through December thirty-first, from December "
     "twenty-fourth to December twenty-sixth, between May first and May third, closed "
     "January first to January second, expires December twenty twenty-six; by one half or "
     "three quarters cup"),
    # After "by", "as of", "ends" too ("one/fifteen" and "twelve/thirty-one" before), but
    # not before what a fraction measures.
    ("Pay by 1/15, as of 12/31; sale ends 5/31. Cut by 5/8 inch, score: 9/10.",
     "Pay by January fifteenth, as of December thirty-first; sale ends May thirty-first. "
     "Cut by five eighths inch, score: nine out of ten."),
    # A tracking number printed in groups, each spelt ("nine hundred and ninety-nine AA1",
    # and a run of zero groups read apart as a phone number before); "M-F" hours; a time
    # kept its space before "&".
    ("Tracking: 1Z 999 AA1 01 2345 6784, tracking number 9400 1000 0000 0000 0000 00. "
     "Open M-F, 10:30 & 11:15.",
     "Tracking: one Z, nine nine nine, A A one, zero one, two three four five, six seven "
     "eight four, tracking number nine four zero zero, one zero zero zero, zero zero zero "
     "zero, zero zero zero zero, zero zero zero zero, zero zero. Open Monday to Friday, ten "
     "thirty and eleven fifteen."),
    # A fraction in one character ("two a half"), listing shorthand ("sq. ft.", "ea",
    # "qty"), "Est." estimated or established, "30-yr" before its noun, a short day
    # before its date and a dash between two of them (silent before).
    ("It's 2 ½ hours, ⅛ teaspoon; 1,850 sq. ft., qty 12 at $3.99 ea. Est. wait 5 mins, "
     "Acme, Est. 1998, a 30-yr loan. Est. delivery: Mon, 12/15–Wed, 12/17.",
     "It's two and a half hours, one eighth teaspoon; one thousand eight hundred and fifty "
     "square feet, quantity twelve at three dollars and ninety-nine cents each. Estimated "
     "wait five minutes, Acme, Established nineteen ninety-eight, a thirty-year loan. "
     "Estimated delivery: Monday, December fifteenth to Wednesday, December seventeenth."),
    # Tech support: a menu path's ">" a pause (silent before), key combinations by their
    # keys' names ("C M D", "del"), a connection's speed ("M B P S"); "between 2–4" is
    # "between two and four".
    ("Go to Settings > Privacy. Press Cmd+C or Ctrl + Alt + Del; if x > 5, at 250 Mbps, "
     "between 2–4 PM.",
     "Go to Settings, Privacy. Press Command plus C or Control plus Alt plus Delete; if x "
     "more than five, at two hundred and fifty megabits per second, between two and four P M."),
    # A health plan's numbers: "group # is" a number ("hash"), "TTY 711" the relay
    # service digit by digit, "appt."; a month after a short day's stop goes on with it
    # ("Wednesday. January" was two sentences), another day does not.
    ("Your group # is 00123. Call TTY 711 before your appt. See you Wed. Jan. 8th. Open "
     "Mon-Fri. Sat 10-2.",
     "Your group number is zero zero one two three. Call TTY seven one one before your "
     "appointment. See you Wednesday January eighth. Open Monday to Friday. Saturday ten "
     "to two."),
    # A brand's mark is not said ("Zelle registered"), a short month before a year is the
    # month, "3x your" a multiple.
    ("Zelle® and Venmo™ work; save $10k by Dec 2025, 3x your income.",
     "Zelle and Venmo work; save ten thousand dollars by December twenty twenty-five, three "
     "times your income."),
    # Travel and menus: a time with its "a" or "p" alone ("five:forty a"), an hour alone
    # only in a range ("seat 5a" stays); a change of gate or price is "to", an inline
    # bullet a pause (both silent before).
    ("Boarding at 5:40a, open 8a–8p, seat 5a. Gate B12 → C3, $40 -> $35. Today: • Salmon "
     "($28) • Ribeye",
     "Boarding at five forty A M, open eight A M to eight P M, seat five a. Gate B12 to C3, "
     "forty dollars to thirty-five dollars. Today: Salmon (twenty-eight dollars), Ribeye"),
    # A range of money or of a scaled number: the currency and the scale said once ("one,
    # two K" and "five, one zero K" before, read as codes); cents keep each end whole; a
    # sum's minus stays one; "zip is" names a ZIP code.
    ("It'll cost $1.5-2K, $500K-$1M or $5.50-$10 for 5-10K users; $10 - $3 = $7. Your "
     "zip is 94103, sales up 20% y/y.",
     "It'll cost one point five to two thousand dollars, five hundred thousand to one "
     "million dollars or five dollars and fifty cents to ten dollars for five to ten "
     "thousand users; ten dollars minus three dollars = seven dollars. Your zip is nine "
     "four one zero three, sales up twenty percent year over year."),
    # Utilities and shipping: any word's "# is", a MAC address pair by pair, a state after
    # its city ("T N"; "OK" only before a ZIP), three sides with their unit, "PO box is",
    # "date:" before a date, "/mo." not ending the sentence.
    ("Meter # is 00-443-221, MAC 00:1A:2B:3C:4D:5E. Ships from Memphis, TN; Portland, OR "
     "97201. Sure, OK. Box: 12x10x8 in. Your PO box is 1234, ship date: 11/3, $45/mo. + tax, "
     "a 2x4 in the wall.",
     "Meter number is zero zero, four four three, two two one, MAC zero zero, one A, two B, "
     "three C, four D, five E. Ships from Memphis, Tennessee; Portland, Oregon nine seven "
     "two zero one. Sure, OK. Box: twelve by ten by eight inches. Your PO box is one two "
     "three four, ship date: November third, forty-five dollars per month + tax, a two by "
     "four in the wall."),
    # A unit written short after a fraction ("T S P", "oz"), one after a fraction alone,
    # many after a whole number and one; a range's "/mo" ("dollars/mo" before).
    ("Add 1/8 tsp salt and 2 ½ tbsp butter, 3/4 oz cheese, 1 1/2 lbs. Plus: $45-55/mo.",
     "Add one eighth teaspoon salt and two and a half tablespoons butter, three quarters "
     "ounce cheese, one and a half pounds. Plus: forty-five to fifty-five dollars per month."),
    # School, tax and legal: a room's number in pairs, pages ("pp"), "Pub.", "para.", a
    # tax form's number as it is said ("one zero nine nine, NEC" before).
    ("Class in Rm. 204, see pp. 45-67 and p. 12. File Form 1040 and your 1099-NEC; IRS "
     "Pub. 17, para. 2.",
     "Class in Room two oh four, see pages forty-five to sixty-seven and page twelve. File "
     "Form ten forty and your ten ninety-nine N E C; IRS Publication seventeen, paragraph "
     "two."),
    # A password or a username spelt as it must be typed: its case, its marks (the "!"
    # was silent, "_" went with markup, the case was lost); a word after "password is"
    # is no password.
    ("Your username is jsmith_42 and your temporary password is Xy7#pQ2!. Your password "
     "is incorrect. IMEI: 35-209900-176148-1, or text us at 55512.",
     "Your username is J, S, M, I, T, H, underscore, four, two and your temporary "
     "password is capital X, Y, seven, hash, P, capital Q, two, exclamation mark. Your "
     "password is incorrect. IMEI: three five, two zero nine nine zero zero, one seven six "
     "one four eight, one, or text us at five five five one two."),
    # Days by their letters in a range ("M–Th" was letters; "M-W-F" is left), one time in
    # two zones ("slash").
    ("Hours: M–Th 8–6, Sa-Su 10-4, M-W-F. The call is at 9am PT / 12pm ET.",
     "Hours: Monday to Thursday eight to six, Saturday to Sunday ten to four, M-W-F. The "
     "call is at nine A M PT or twelve P M ET."),
    # An email address keeps its underscore ("john smith at"); snake_case is two words.
    ("Email john_smith@acme.com about user_id.",
     "Email john underscore smith at acme dot com about user id."),
    # Fractions before what they measure, and after a whole number ("five/eight inch",
    # "two three quarters" before); an inch mark after one, unless it closes a quotation.
    ('Use 5/8 inch or 1/8 to 3/16 in. bolts, 2 3/4 cups, 1 1/4 miles and 1/16 of an inch; '
     'a 3/8" hose, the pipe is 1 1/2". Type "3/4" and 7/10.',
     "Use five eighths inch or one eighth to three sixteenths inch bolts, two and three "
     "quarters cups, one and a quarter miles and one sixteenth of an inch; a three eighths "
     'inch hose, the pipe is one and a half inches. Type "three quarters" and seven/ten.'),
    # Identifiers after what names one, digit by digit ("fifty-eight thousand ..." before);
    # a code of capitals and digits too, but "COVID-19" is a name; "401(k)" is a plan.
    ("Your order 58213; card ends in 6789; ABC-123; P.O. Box 4521; COVID-19; your 401(k).",
     "Your order five eight two one three; card ends in six seven eight nine; ABC one two "
     "three; P.O. Box four five two one; COVID-nineteen; your four oh one K."),
    # A 24-hour time on the hour is "hundred" ("seventeen o'clock" before).
    ("Open 9:00-17:00, at 14:00 or 14:30", "Open nine o'clock to seventeen hundred, at "
     "fourteen hundred or fourteen thirty"),
    # The hour after midnight ("zero fifteen" before) and midnight itself.
    ("Boarding 00:15, departs at 00:00", "Boarding twelve fifteen A M, departs at midnight"),
    # Units written short ("per mo" was heard "per mile"; "hrs", "mins" were read as such).
    ("$29.99/mo or $300/yr. It takes 2 hrs 30 mins, or 1 hr.", "twenty-nine dollars and "
     "ninety-nine cents per month or three hundred dollars per year. It takes two hours "
     "thirty minutes, or one hour."),
    # A score out of five or ten ("four/five" before); "3/5" alone is left alone.
    ("Rated 4/5, a 4.5/5 rating, score of 9/10, 3/5", "Rated four out of five, a four point "
     "five out of five rating, score of nine out of ten, three/five"),
    ("At 10:00 sharp", "At ten o'clock sharp"),
    ("At 9:05", "At nine oh five"),
    ("On 2024-03-15.", "On March fifteenth, twenty twenty-four."),
    ("On March 3rd, 2025", "On March third, twenty twenty-five"),
    ("The 22nd floor", "The twenty-second floor"),
    ("In 1999 we sold 1,200 units", "In nineteen ninety-nine we sold one thousand two hundred units"),
    ("Pi is 3.14", "Pi is three point one four"),
    ("Take .5 ml", "Take zero point five ml"),
    ("Dr. Smith lives on Main St. He is nice.", "Doctor Smith lives on Main Street. He is nice."),
    ("Room No. 5, e.g. this one", "Room number five, for example this one"),
    ("Mail jo.doe@example.com", "Mail jo dot doe at example dot com"),
    ("See https://www.example.com/help.", "See www dot example dot com slash help."),
    ("Call (555) 123-4567", "Call five five five, one two three, four five six seven"),
    # A sign is read; a hyphen after a word character is not a sign.
    ("It is -5 degrees, -3.5% and -$20.",
     "It is minus five degrees, minus three point five percent and minus twenty dollars."),
    ("(-1,000) and 5 −3", "(minus one thousand) and five minus three"),
    ("Pages 2-3 of COVID-19", "Pages two to three of COVID-nineteen"),
    # Seven digits or more with no grouping are an identifier, read digit by digit, unless
    # they end in thousands; a grouped number or an amount stays a number.
    ("Card 1234567890123456 ok", "Card one two three four five six seven eight nine zero "
     "one two three four five six ok"),
    ("Your order number is 10482736.", "Your order number is one zero four eight two seven "
     "three six."),
    ("Debt 123,456,789,012,345 or $5000000; 2500000 people",
     "Debt one hundred and twenty-three trillion four hundred and fifty-six billion seven "
     "hundred and eighty-nine million twelve thousand three hundred and forty-five or five "
     "million dollars; two million five hundred thousand people"),
    # Phone numbers of other shapes; a ZIP code and an identifier after "#" or "PIN".
    ("Call 555-1234 or +44 20 7946 0958.", "Call five five five, one two three four or plus "
     "four four, two zero, seven nine four six, zero nine five eight."),
    ("Springfield, IL 62704, order #12345, PIN 4821", "Springfield, Illinois six two seven zero "
     "four, order number one two three four five, PIN four eight two one"),
    # Ranges have a "to"; a slash before a unit is "per"; fractions, "~", short months.
    ("Ships in 3-5 days, 9am-5pm, Mon–Fri, $5-$10.", "Ships in three to five days, nine A M "
     "to five P M, Monday to Friday, five to ten dollars."),
    ("$19.99/month, open 24/7, 1/2 off, ~5 minutes", "nineteen dollars and ninety-nine cents "
     "per month, open twenty-four seven, one half off, about five minutes"),
    ("On Apr. 12, Jun 5 and Mar 3rd", "On April twelfth, June fifth and March third"),
    # A card's last digits, a reference, a service number, a tracking code: digit by
    # digit; short codes ("MP3", "COVID19") stay words.
    ("Your card ending in 4242, reference is 7731. Call 911 or (555)123-4567.",
     "Your card ending in four two four two, reference is seven seven three one. Call nine "
     "one one or five five five, one two three, four five six seven."),
    ("Tracking: 1Z999AA10123456784, an MP3 of COVID19", "Tracking: one Z nine nine nine A A "
     "one zero one two three four five six seven eight four, an MP3 of COVID19"),
    # An identifier's groups, each digit by digit (the groups after the first were
    # amounts), "# " and "#:" are "number", a code of capitals and digits after what
    # names one is spelt; a promo word stays a word.
    ("Your order number is 112-4458899-1234567", "Your order number is one one two, four "
     "four five eight eight nine nine, one two three four five six seven"),
    ("Order # 55123, Ticket #: 8452, PIN is 1234", "Order number five five one two three, "
     "Ticket number eight four five two, PIN is one two three four"),
    ("Your confirmation number is ABC123, code: SAVE20, ref REF-2024-0042", "Your "
     "confirmation number is A B C one two three, code: SAVE20, ref REF, two zero two four, "
     "zero zero four two"),
    # A date whose first number can be no month is day first; a euro amount with a
    # decimal comma has cents (it was a hundred times the price); decades are words
    # (espeak said "nineteen hundred ninety z").
    ("Born 15/03/1990, paid €5,50 in the 1990s, in his 30s", "Born March fifteenth, "
     "nineteen ninety, paid five euros and fifty cents in the nineteen nineties, in his "
     "thirties"),
    # A short code to text, digit by digit; a duration in h and m, in words.
    ("Text STOP to 12345. It takes 2h 30m, or 1h 5min.", "Text STOP to one two three four "
     "five. It takes two hours thirty minutes, or one hour five minutes."),
    # A booking code whose letters and digits alternate, each character; one run of
    # each is a name.
    ("Code 8XK2P9 for the RTX4090", "Code eight X K two P nine for the RTX4090"),
    # Dates with a short year or none after what a date follows; "1 1/2".
    ("Closed on 12/25, back 3/15/24 for 1 1/2 days, cut by 1/2", "Closed on December "
     "twenty-fifth, back March fifteenth, twenty twenty-four for one and a half days, cut by "
     "one half"),
    # An abbreviation's period that also ends the sentence stays; before a name it goes.
    ("We take Visa, etc. Anything else? Acme Inc. We build. Ask Dr. Lee, Lakers vs. Celtics",
     "We take Visa, et cetera. Anything else? Acme Incorporated. We build. Ask Doctor Lee, "
     "Lakers versus Celtics"),
    ("Open Mon-Fri. Call 42 Oak St, Springfield, or 5th Ave., here",
     "Open Monday to Friday. Call forty-two Oak Street, Springfield, or fifth Avenue, here"),
    # US addresses mostly leave the stop out ("Ave" was heard "Abe", "Ste 200" "C200").
    ("1600 Pennsylvania Ave NW, 350 5th Ave, Ste 200. Ocean Blvd and 3rd St",
     "sixteen hundred Pennsylvania Avenue Northwest, three fifty fifth Avenue, Suite two "
     "hundred. Ocean Boulevard and third Street"),
    # A direction before a named street and a quarter after it, a suite's and a highway's
    # number in pairs, a floor ("W. Madison", "N W", "one thousand two hundred", "Hwy
    # one hundred and one", "fl" before); "booked for 10/15" a date, "for 1/10 of" not.
    ("500 W. Madison St., Ste. 1200, on the 2nd fl.; 100 Main St SE. Take Hwy 101 or Rte. 9, "
     "booked for 10/15, for 1/10 of the price, for 2/3 of it",
     "five hundred West Madison Street, Suite twelve hundred, on the second floor; one "
     "hundred Main Street Southeast. Take Highway one oh one or Route nine, booked for "
     "October fifteenth, for one tenth of the price, for two thirds of it"),
    # A house number in pairs, as said ("one thousand six hundred Pennsylvania Avenue");
    # other numbers as before.
    ("At 221 Baker Street, 305 Elm Rd and 2005 Ocean Drive, room 305.", "At two twenty-one "
     "Baker Street, three oh five Elm Road and twenty oh five Ocean Drive, room three "
     "hundred and five."),
    ("Meet me at Elm Rd. Then call.", "Meet me at Elm Road. Then call."),
    # What an agent writes that was misheard (round 7 of review): phone numbers with a
    # bracketed area code, a "(0)", long groups or 4-3-3 were amounts; "*72" lost its
    # star and "#" was "hash" to an American; "no." was the word "no" and ended the
    # sentence; codes with letters were amounts; a card's expiry was a day; "10s" was
    # "tens"; a sum's minus was "to"; ranks, "w/" and "N/A" were read as written.
    ("Call (020) 7946 0958 or +49 30 1234567 or 1800-123-456.", "Call zero two zero, seven "
     "nine four six, zero nine five eight or plus four nine, three zero, one two three four "
     "five six seven or one eight zero zero, one two three, four five six."),
    ("Enter *72, then press # to confirm.", "Enter star seventy-two, then press pound to "
     "confirm."),
    ("Your account no. 55123 and order no. is 7781.", "Your account number five five one "
     "two three and order number is seven seven eight one."),
    ("Order #A-10293, policy HX-55-2201-A, not COVID-19.", "Order A, one zero two nine "
     "three, policy H X, five five, two two zero one, A, not COVID-nineteen."),
    # Two groups that mix letters and digits are a code too ("XK seven ninety-two B").
    ("Your code is XK7-92B, not a B-52.", "Your code is X K seven, nine two B, not a "
     "B-fifty-two."),
    # A name's three digits, as they are said ("F-one hundred and fifty").
    ("The F-150 on I-405, the B-200.", "The F one fifty on I four oh five, the B two "
     "hundred."),
    # A flight's number is announced in pairs ("U A one hundred twenty three" before).
    ("Flight UA123, flight B6 1005 or flight LH 2000.", "Flight U A one twenty-three, flight "
     "B six ten oh five or flight L H two thousand."),
    ("Card expires 09/27. The offer expires 09/27.", "Card expires September twenty "
     "twenty-seven. The offer expires September twenty-seventh."),
    ("Wait 10s. So $10 - $3 = $7 left.", "Wait ten seconds. So ten dollars minus three "
     "dollars = seven dollars left."),
    ("Lt. Col. Smith: comes w/ a charger, w/o a case, N/A.", "Lieutenant Colonel Smith: "
     "comes with a charger, without a case, not applicable."),
    ("$20 incl. VAT, $100K/yr at 45 W. 34th St.", "twenty dollars including VAT, one "
     "hundred thousand dollars per year at forty-five West thirty-fourth Street."),
    # The euro sign after the amount, as Europe writes it ("one point two nine nine").
    ("Total 1.299,00 € or 1.000 € or 2,50€.", "Total one thousand two hundred and "
     "ninety-nine euros or one thousand euros or two euros and fifty cents."),
    # Other currencies ("A$30" was "Athirty dollars"); a comma after an amount is kept
    # (the pause was lost: "thirty dollars or about").
    ("That's A$30, or about R$ 50, ¥12,000 or ₹499.", "That's thirty Australian dollars, "
     "or about fifty reais, twelve thousand yen or four hundred and ninety-nine rupees."),
    # Dates and times as written elsewhere ("Due: 4/1" was "4 slash 1").
    ("Due: 4/1, open 2025/03/15 at 7.30pm.", "Due: April first, open March fifteenth, "
     "twenty twenty-five at seven thirty P M."),
    ("Mon, Jan 6 or Sat, March 3", "Monday, January sixth or Saturday, March third"),
    ("Error code 0x8007000E.", "Error code hex eight zero zero seven zero zero zero E."),
    ("Visit St. Louis. The Ave Maria was sung.", "Visit Saint Louis. The Ave Maria was sung."),
    ("On 2024-03-15, call 1-800-FLOWERS", "On March fifteenth, twenty twenty-four, call "
     "one eight hundred FLOWERS"),
    # Days of one month; "k+" is thousands and more.
    ("March 5-7, Jan 21-23rd, May 1-3 for 10k+ users", "March fifth to seventh, January "
     "twenty-first to twenty-third, May first to third for ten thousand plus users"),
    # A leading zero makes a code, read digit by digit; a lone zero or a decimal is a number.
    ("Your code is 0427", "Your code is zero four two seven"),
    ("Agent 007.", "Agent zero zero seven."),
    ("0, 0.5 and $0.50", "zero, zero point five and fifty cents"),
    # A unit written onto a number ("1.5GB") leaves the number whole.
    ("1.5GB, 5GB, 1,200mg, 10x", "one point five GB, five GB, one thousand two hundred milligrams, ten x"),
    # A version's parts are numbers ("v2.0" was "v2.zero"); "v" is "version", a capital
    # "V" only before a point; a decimal on a letter is a word of its own ("x1.five").
    ("Get v2.0, v2 or v1.10. version 3.2.1 and 1.2.3.4 beat V8",
     "Get version two point zero, version two or version one point ten. version three point "
     "two point one and one dot two dot three dot four beat V8"),
    ("x1.5 speed, Python3.11 and Version 1.2.3.4", "x one point five speed, Python three point "
     "one one and Version one point two point three point four"),
    # An IP address is read as its URL would be (it was "one hundred and ninety-two point
    # one six eight.one.one"); a phone number's dots still make a phone number.
    ("Go to 192.168.1.1. Or 10.0.0.255", "Go to one nine two dot one six eight dot one dot "
     "one. Or one zero dot zero dot zero dot two five five"),
    ("Call 555.123.4567", "Call five five five, one two three, four five six seven"),
    # Digits in a name are a word of their own ("shoptwo four", "doefour two" before).
    ("Write shop24@example.com or www.site123.com/page2", "Write shop two four at example dot "
     "com or www dot site one two three dot com slash page two"),
    # A port is read with its address (it was "one:eight thousand and eighty").
    ("Connect to 10.0.0.1:8080 or http://example.com:443/x.", "Connect to one zero dot zero "
     "dot zero dot one colon eight zero eight zero or example dot com colon four four three "
     "slash x."),
    # A scale on a bare number ("five M users" before); "5B" is a flat, "5K" a race.
    ("5M users, a 2.5B budget, 3mn, 4bn; Apt 5B, a 5K run.", "five million users, a two "
     "point five billion budget, three million, four billion; Apartment five B, a five K run."),
    # A day-first date, as Europe writes it (it was "fifteen point zero three point ...");
    # what is no date, or follows "version", is still a version.
    ("Born 15.03.2024, not 40.13.2024 or version 1.2.2024",
     "Born March fifteenth, twenty twenty-four, not forty point thirteen point twenty "
     "twenty-four or version one point two point twenty twenty-four"),
    # Digit groups joined as code writes them are one number ("five zero zero zero");
    # an "_" in a name is still a space.
    ("5_000 rows, 1_000_000 or 1_999; row_1_000 and 5_0000",
     "five thousand rows, one million or one thousand nine hundred and ninety-nine; "
     "row one zero zero zero and five zero zero zero zero"),
    # "the" before a day of the month is said once.
    ("On the 5th of June", "On the fifth of June"),
    ("The 5th of June, 5th of June or 5 June 2024",
     "The fifth of June, the fifth of June or the fifth of June, twenty twenty-four"),
    # Full-width and mathematical Latin is plain Latin to a listener; "m²" stays (not
    # "m2"), and "½" is read as a fraction, not folded to "1⁄2".
    ("Ｈｅｌｌｏ", "Hello"),
    ("𝐇𝐞𝐥𝐥𝐨 at ９：３０, ½ m²", "Hello at nine thirty, one half m²"),
    # An ISO date-time from a tool's answer was spelt as a code ("two zero two five, zero
    # three, one five T one four:thirty:zero zero"): a date, "at", a time, its zone.
    ("Booked 2025-03-15T14:30:00. Created 2025-03-15T09:05:12.345Z, ends "
     "2025-03-15T18:00-05:00 or 2025-03-15 14:30+05:30",
     "Booked March fifteenth, twenty twenty-five at fourteen thirty. Created March "
     "fifteenth, twenty twenty-five at nine oh five UTC, ends March fifteenth, twenty "
     "twenty-five at eighteen hundred UTC minus five or March fifteenth, twenty "
     "twenty-five at fourteen thirty UTC plus five thirty"),
    # After a space, a dash is a range of times, not an offset ("UTC minus sixteen").
    ("Meeting 2025-03-15 14:30-16:00.", "Meeting March fifteenth, twenty twenty-five at "
     "fourteen thirty to sixteen hundred."),
    # One of a unit is singular; the day's end is midnight, not "twenty-four hundred".
    ("It takes 1h 1min.", "It takes one hour one minute."),
    ("Open until 24:00.", "Open until midnight."),
    # Numbers a colon joins that are no time were read "three colon one" by espeak: a
    # ratio or score, a duration, a time with its seconds, a lap time.
    ("Odds of 3:1, a 16:9 screen, a 1:100 scale, won 2:0.", "Odds of three to one, a "
     "sixteen to nine screen, a one to one hundred scale, won two to zero."),
    ("It took 1:30:45, then 0:05:01, then 2:00:00.", "It took one hour, thirty minutes "
     "and forty-five seconds, then five minutes and one second, then two hours."),
    ("Booked for 14:30:15, not 09:05:00.", "Booked for fourteen thirty, not nine oh five."),
    ("Laps of 25:10 and 25:05; at 9:45.", "Laps of twenty-five ten and twenty-five oh "
     "five; at nine forty-five."),
    ("Read Psalm 23:1 and Genesis 1:1.", "Read Psalm twenty-three one and Genesis one "
     "one."),
    ("Her best lap, 1:05.3, beat 1:23.45.", "Her best lap, one oh five point three, beat "
     "one twenty-three point four five."),
    # Units written short were spelt ("five hundred em gee", "kay em slash aitch"), and
    # "<" was not said at all ("wait <5 minutes" was heard "wait five minutes").
    ("Take 500 mg, or 1 mg/kg; a 500 mg tablet.", "Take five hundred milligrams, or one "
     "milligram per kilogram; a five hundred milligram tablet."),
    ("It is 2,5 kg, 20°C (68 °F), 100 km/h, 6 ft and 1 ft, 3 kWh, $4.99/kg.", "It is two "
     "point five kilograms, twenty degrees Celsius (sixty-eight degrees Fahrenheit), one "
     "hundred kilometers per hour, six feet and one foot, three kilowatt hours, four "
     "dollars and ninety-nine cents per kilogram."),
    ("Wait <5 minutes, ages >= 18 and <= 65, >10 people; x>5, 5G, 3 mins.", "Wait less "
     "than five minutes, ages at least eighteen and at most sixty-five, more than ten "
     "people; x>five, five G, three minutes."),
    # An extension was an amount, "#" on a word "hash", "Ch." "see aitch".
    ("Call 555-1234 x123 or ext. 42, Ref# 12345; see Ch. 5, Fig. 2. Approx. 5 min.",
     "Call five five five, one two three four extension one two three or extension four "
     "two, Ref number one two three four five; see Chapter five, Figure two. "
     "Approximately five minutes."),
    ("A 2x4 board, a 10x20 ft room, 3x faster, 2x the price; 0x1F.", "A two by four board, "
     "a ten by twenty foot room, three times faster, two times the price; hex one F."),
    ("A 1920x1080 screen.", "A nineteen twenty by ten eighty screen."),
    # An ISO currency code was spelt ("fifty you ess dee") and its cents were a decimal;
    # a ZIP code after "ZIP" was an amount, a 50/50 split "fifty slash fifty".
    ("Costs USD 50.25, 20 EUR, 1.299,00 EUR, GBP 15.50 or CAD 20; the USD rose.", "Costs "
     "fifty US dollars and twenty-five cents, twenty euros, one thousand two hundred and "
     "ninety-nine euros, fifteen pounds and fifty pence or twenty Canadian dollars; the "
     "USD rose."),
    ("ZIP 90210, a 50/50 split, 50 USD/month.", "ZIP nine zero two one zero, a "
     "fifty-fifty split, fifty US dollars per month."),
    # Inch marks were silent and each "x" the letter; "11 in" the word "in"; a unit after
    # a currency code's "per" was spelt ("per kay gee").
    ("It is 12\" x 8\" x 4\", a 27\u2033 screen; he is 5'11\", she 5 ft 4 in. Now 20 EUR/kg.",
     "It is twelve by eight by four inches, a twenty-seven inch screen; he is five feet "
     "eleven inches, she five feet four inches. Now twenty euros per kilogram."),
    ('He said "I am 5" and left.', 'He said "I am five" and left.'),
    # An en dash between capitalised times, full day or month names was silent ("nine A M
    # five P M", "Monday Friday"); an IBAN's groups were amounts and phone numbers.
    ("Open Monday–Friday, 9 AM–5 PM, Jan-Mar.", "Open Monday to Friday, nine A M to five "
     "P M, January to March."),
    # What a pharmacy, an airline or a bank says: "2x daily" was "two x daily", a seat
    # range spelt ("one two A, one two C"), a masked account's last four an amount, a
    # "case #" the hash key, "10-min" the word "min", a spaced dash between dates silent.
    ("Take 1 tablet 2x daily, 3x a day or 1x/week; a 10-min drive, a 2-hr wait.",
     "Take one tablet twice daily, three times a day or once a week; a ten-minute drive, "
     "a two-hour wait."),
    ("Seats 12A-12C, gates B12-B14, not A4-B2. From checking (...4821), fee $45 int'l.",
     "Seats twelve A to twelve C, gates B12 to B14, not A four, B two. From checking (ending in "
     "four eight two one), fee forty-five dollars international."),
    ("Your case # is 55123. Delivery Tue 12/9 – Thu 12/11. The month - March - was cold.",
     "Your case number is five five one two three. Delivery Tuesday December ninth to "
     "Thursday December eleventh. The month - March - was cold."),
    ("IBAN DE89 3704 0044 0532 0130 00, thanks.", "IBAN D E eight nine, three seven zero "
     "four, zero zero four four, zero five three two, zero one three zero, zero zero, "
     "thanks."),
    # Groups from a 0, ten to fifteen digits: a number to write down, not amounts.
    ("Call 020 7946 09581 or 0044 20 7946 0958.", "Call zero two zero, seven nine four "
     "six, zero nine five eight one or zero zero four four, two zero, seven nine four "
     "six, zero nine five eight."),
])
def test_normalize_english(text: str, spoken: str) -> None:
    assert normalize(text, "en-US") == spoken


@pytest.mark.parametrize("text", [
    "9" * 400,  # num2words overflows at 307 digits
    "$" + "9" * 400,
    "1," + "000," * 120 + "000",
    "9" * 4400,  # int() refuses more than 4,300 digits
    "12345678901234567890th",
    "1." + "5" * 400 + "%",
])
def test_long_digit_runs_are_read_digit_by_digit(text: str) -> None:
    spoken = normalize(text)
    digits = sum(c.isdigit() for c in text)
    assert not any(c.isdigit() for c in spoken)
    assert len([w for w in spoken.split() if w in normalize_module.DIGITS]) == digits


def test_a_failing_rule_keeps_its_match_as_written(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("num2words broke")

    monkeypatch.setattr(numerals_module, "num2words", broken)
    assert normalize("I have 5 apples, 20% off.") == "I have 5 apples, 20% off."


# What a language model writes and espeak would read aloud ("asterisk asterisk Sure",
# "hash Title", "grinning face", "b bold slash b").
@pytest.mark.parametrize("text, spoken", [
    ("**Sure!** Here are *three* options:\n- One thing\n- Two things",
     "Sure! Here are three options: One thing. Two things"),
    ("## Hours\nWe open at 9.", "Hours. We open at nine."),
    ("1. Call us\n2. Pay", "one, Call us. two, Pay"),
    ("Run this:\n```bash\nls\n```\nDone", "Run this: ls. Done"),
    ("Hello 😀 world 👍🏽.", "Hello world."),
    ("<speak>Hi <break time=\"1s\"/> there.</speak>", "Hi there."),
    ("See [the docs](https://example.com/a) or `pip install`.", "See the docs or pip install."),
    ("Ticket #5 for #Rymi, user_id _now_ ~~not~~", "Ticket number five for Rymi, user id now not"),
    ("3 * 4 and 2×3", "three times four and two times three"),
    ("a < b and b > c, ™ ©", "a < b and b > c, ™ ©"),  # not markup
    ("if a<b and c>d", "if a<b and c>d"),
    ("<p>One</p><prosody rate='slow'>two</prosody>", "One two"),
    ("A line\nwrapped mid-sentence", "A line wrapped mid-sentence"),
    # A lone "*" is a key, not emphasis; a line of them is a horizontal rule.
    ("Press * to go back, or *.", "Press star to go back, or star."),
    ("Intro\n* * *\nMore *here*", "Intro. More here"),
    # A bare <Name> that is no HTML or SSML element is a key or a placeholder: it is said.
    ("Press <Enter> to continue, or <Del>.", "Press Enter to continue, or Del."),
    ("Replace <filename> with yours", "Replace filename with yours"),
    ("<b>Bold</b><BR><emphasis>now</emphasis><amazon:effect>!</amazon:effect>", "Bold now!"),
    # HTML entities are the characters they stand for; an "&" not ending in ";" is text.
    ("Tom &amp; Jerry, &quot;AT&T&quot; &lt;b&gt;", 'Tom and Jerry, "AT&T"'),
    # Only an entity with its ";" is one: "&not" in a word is no "¬" ("Fees¬ices").
    ("Fees&notices apply.", "Fees&notices apply."),
    # A line that starts "a. m." is words, not a list item lettered "a".
    ("- Hours\na. m. is when we open", "Hours. a. m. is when we open"),
    # A Markdown table is read row by row, its cells apart ("| Plan | Price | |---|---|"
    # was read out, one run-on line); a "|" outside a table stays.
    ("| Plan | Price |\n|---|:--:|\n| Basic | $5 |\n| Pro | $10 |\nThanks.",
     "Plan, Price. Basic, five dollars. Pro, ten dollars. Thanks."),
    ("Plan | Price\n--- | ---\nBasic | $5\n\na | b", "Plan, Price. Basic, five dollars. a | b"),
])
def test_markup_is_not_read_aloud(text: str, spoken: str) -> None:
    assert normalize(text, "en-US") == spoken


def test_markup_goes_in_every_language_and_an_emoji_alone_is_nothing_to_say() -> None:
    assert normalize("**Hola** 😀", "es-ES") == "Hola"
    assert normalize("Pulse * para volver", "es-ES") == "Pulse * para volver"  # "asterisco"
    assert normalize("Tom &amp; Jerry", "es-ES") == "Tom & Jerry"
    assert normalize("5_000 filas", "es-ES") == "5000 filas"  # "5 000" was "cinco cero"
    assert normalize("Ｈｏｌａ 𝑦 ＊＊adiós＊＊", "es-ES") == "Hola y adiós"
    assert plan("😀🎉") == [] and plan("**") == []


@pytest.mark.parametrize("language", ["en-US", "es-ES"])
def test_double_brackets_never_reach_piper(language: str) -> None:
    # piper reads text in [[ ]] as raw phonemes: "hello" would be mangled, not said.
    assert normalize("Say [[hello]] now", language) == "Say [hello] now"
    spoken = normalize("[[[a]]], [`[b]`] and [**[c**]]", language)
    assert "[[" not in spoken and "]]" not in spoken


@pytest.mark.parametrize("text, language, spoken", [
    # English's "times" was written into every language: "3 times 4" in Spanish.
    ("3 * 4 y 2×3", "es-ES", "3 por 4 y 2 por 3"),
    ("3 * 4", "ru-RU", "3 умножить на 4"),
    ("3*4", "zh_CN", "3 乘以 4"),
    # espeak says "×" itself in these: "drei mal vier", "trois multiplié par quatre".
    ("3 * 4", "de-DE", "3 × 4"),
    ("3 × 4", "fr-FR", "3 × 4"),
    ("3 * 4", "he-IL", "3 × 4"),
])
def test_a_multiplication_is_said_in_the_voices_language(text: str, language: str,
                                                         spoken: str) -> None:
    assert normalize(text, language) == spoken


@pytest.mark.parametrize("text", ["Café au lait, naïve résumé.", "Müller's Straße.",
                                  "¿Qué año? Ñandú."])
def test_decomposed_text_is_read_as_the_composed(text: str) -> None:
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text  # the premise: combining marks
    assert normalize(decomposed) == normalize(text) == text


@pytest.mark.parametrize("mark", ["\u200b", "\u200d", "\u2060", "\ufeff"])
def test_a_zero_width_mark_inside_a_word_leaves_it_one_word(mark: str) -> None:
    assert normalize(f"Hel{mark}lo wor{mark}{mark}ld.") == "Hello world."
    assert normalize(f"Hello{mark} world.") == "Hello world."  # nothing where it was


def test_other_languages_are_left_alone() -> None:
    assert normalize("Cuesta  $5.", "es-ES") == "Cuesta $5."


def test_first_sentence_is_cut_at_its_first_clause() -> None:
    pieces = plan("Thanks for calling Acme support, my name is Joe, how can I help? "
                  "Tell me, please, what happened.", "en-US", first_chars=60)
    assert [p.text for p in pieces] == [
        "Thanks for calling Acme support,", "my name is Joe, how can I help?",
        "Tell me, please, what happened."]
    assert [p.ends_sentence for p in pieces] == [False, True, True]


@pytest.mark.parametrize("first_chars, pieces", [
    (60, ["Thanks for calling Acme support,", "how can I help you today?"]),
    (0, ["Thanks for calling Acme support, how can I help you today?"]),  # 0: no cut
    (20, ["Thanks for calling", "Acme support, how can I help you today?"]),
])
def test_a_short_first_sentence_is_cut_at_its_clause_too(first_chars: int,
                                                         pieces: list[str]) -> None:
    """A greeting under first_piece_chars (58 characters) was one piece: its first audio
    came after the whole of it was synthesised (132 ms against 65 ms for the clause)."""
    text = "Thanks for calling Acme support, how can I help you today? Bye."
    got = plan(text, "en-US", first_chars=first_chars)
    assert [p.text for p in got] == [*pieces, "Bye."]
    assert [p.ends_sentence for p in got] == [False] * (len(pieces) - 1) + [True, True]
    # A first clause shorter than a word or two is not cut off on its own.
    assert [p.text for p in plan("Sure, I can help with that.", "en-US", 60)] == [
        "Sure, I can help with that."]


def test_first_sentence_without_clause_is_cut_near_the_limit() -> None:
    sentence = "This sentence has no clause marks and goes on well past sixty characters"
    first, rest = plan(sentence, "en", first_chars=60)
    assert len(first.text) <= 60 and not first.ends_sentence
    assert f"{first.text} {rest.text}" == sentence


@pytest.mark.parametrize("text, first", [
    # The words one reading made are one unit: the cut goes before them or after them
    # ("...thirty-four | dollars and fifty-six cents" was heard as two amounts).
    ("Your total is $1,234.56 and it is due on the fifteenth of the month.",
     "Your total is"),
    ("You can always write to us at support-team@example.com if it helps",
     "You can always write to us at"),
    ("Call us now at (555) 123-4567 and ask for the billing team please.",
     "Call us now at"),
])
def test_the_first_cut_never_falls_inside_one_reading(text: str, first: str) -> None:
    # (and no clause cut either: "five five five, | one two three" was two engine runs)
    pieces = [p.text for p in plan(text, "en", first_chars=40)]
    assert pieces[0] == first and "\xa0" not in " ".join(pieces), pieces
    assert len(pieces) == 2


@pytest.mark.parametrize("text", [
    "word " * 990,  # no clause mark: the first sentence's tail was one 4,900-character piece
    "Hi 😀" * 1250,
    "Hi there. " + "abcdefghij" * 490,  # one unbreakable "word"
    "x" * 400 + " then some words",  # a first word longer than the first cut
    "Short first. " + "Then a long one " * 40 + ". " + "y" * 700,
])
@pytest.mark.parametrize("first_chars", [60, 500])
def test_no_piece_is_longer_than_the_cap_and_nothing_is_lost(text: str,
                                                             first_chars: int) -> None:
    pieces = [p.text for p in plan(text, "en", first_chars=first_chars)]
    assert max(len(p) for p in pieces) <= MAX_PIECE
    assert len(pieces[0]) <= max(first_chars, MAX_PIECE)
    spoken = normalize(text)
    if not any(len(w) > MAX_PIECE for w in spoken.split()):  # no word cut in two
        assert " ".join(pieces).split() == spoken.split()  # every word, in order
    assert "".join(pieces).replace(" ", "") == spoken.replace(" ", "")


def test_short_text_is_one_piece_and_punctuation_alone_is_nothing() -> None:
    assert [p.text for p in plan("Hi.")] == ["Hi."]
    assert plan("... ?!") == []


@pytest.mark.parametrize("text, language, spoken", [
    # A model's lines with no stop: each line a sentence, in every language and script.
    ("Hello there\nHow are you", "en-US", ["Hello there.", "How are you"]),
    ("Hola\n¿Qué tal?", "es-ES", ["Hola.", "¿Qué tal?"]),
    ("Привет\nКак дела", "ru-RU", ["Привет.", "Как дела"]),
    ("你好\n今天天气很好", "zh-CN", ["你好.", "今天天气很好"]),
    # A blank line ends a paragraph whatever follows; so does a list item in lowercase.
    ("First part\n\nsecond part", "en-US", ["First part.", "second part"]),
    ("- one\n- two", "es-ES", ["one.", "two"]),
    # A numbered item's number goes with it, not with the line before.
    ("Here are your options:\n1. Basic - $10\n2) Pro", "en-US",
     ["Here are your options: one, Basic - ten dollars.", "two, Pro"]),
    # A lettered item's letter is said as a letter, its line a sentence (they ran
    # together, "a) red b) blue", the "a" the article); "a lot" opening a line is no item.
    ("Pick one:\na) red\nb) blue\n(c) green", "en-US", ["Pick one: A, red.", "B, blue.",
                                                    "C, green"]),
    ("We need\na lot of time", "en-US", ["We need a lot of time"]),
    ("Done!\nnext", "en-US", ["Done!", "next"]),
    # A line ending in a time's A M or P M ends there: the stop the time took is put
    # back, and "AM" in capitals is no "am" a sentence goes on after (the slots of a
    # booking reply ran together as one sentence).
    ("Open slots:\n1. 9am\n2. 11am", "en-US", ["Open slots: one, nine A M.",
                                            "two, eleven A M"]),
    ("- Monday at 9 AM\n- Friday at 4 PM", "en-US", ["Monday at nine A M.",
                                                  "Friday at four P M"]),
    ("Times: 9:00 AM\n2:00 PM", "en-US", ["Times: nine A M.", "two P M"]),
    ("Open at 9 a.m.\nTuesday too", "en-US", ["Open at nine A M.", "Tuesday too"]),
    # The marks closing a line go first, then the line ends; "\r\n" is a line break too.
    ("**Hours**\r\nWe open at 9 👍\nSee you", "en-US", ["Hours.", "We open at nine.", "See you"]),
    # A wrapped sentence goes on, as does a line ending at a comma or an abbreviation.
    ("A line that was\nwrapped, and goes\non", "en-US", ["A line that was wrapped, and goes on"]),
    ("Ask Dr.\nLee, e.g.\nthis one\n", "en-US", ["Ask Doctor Lee, for example this one"]),
    # An English line ending on a word no sentence ends on goes on before a capital too
    # ("We met with. John" before); a blank line is still a paragraph's end.
    ("We met with\nJohn on\nMonday, and the\nBoard agreed\nThanks", "en-US",
     ["We met with John on Monday, and the Board agreed.", "Thanks"]),
    ("Signed by the\n\nBoard", "en-US", ["Signed by the.", "Board"]),
    # The same in German (where every noun has a capital), Spanish and French.
    ("Der Brief kam von\nJohann am\nMontag und der\nVorstand sah ihn\nDanke", "de-DE",
     ["Der Brief kam von Johann am Montag und der Vorstand sah ihn.", "Danke"]),
    ("Wir stimmen zu\nIch weiß es nicht\nDanke", "de-DE",  # "zu" a prefix here
     ["Wir stimmen zu.", "Ich weiß es nicht.", "Danke"]),
    ("Hablé con\nMaría y\nPedro ayer\nGracias", "es-ES", ["Hablé con María y Pedro ayer.",
                                                        "Gracias"]),
    ("Je suis allé à\nParis avec\nMarie et l'\nAmi de\nLéa\nMerci", "fr-FR",
     ["Je suis allé à Paris avec Marie et l' Ami de Léa.", "Merci"]),
    ("Fais-le\nMerci", "fr-FR", ["Fais-le.", "Merci"]),
])
def test_a_line_break_ends_a_sentence_where_a_listener_hears_one(
        text: str, language: str, spoken: list[str]) -> None:
    assert [p.text for p in plan(text, language, first_chars=0)] == spoken
    assert [p.ends_sentence for p in plan(text, language, first_chars=0)] == [True] * len(spoken)


@pytest.mark.parametrize("text, pieces", [
    # An initial or a dotted abbreviation before a name goes on (a pause and a falling
    # voice fell inside "John A. | Smith"); before a word that starts sentences, it ends one.
    ("Your agent is John A. Smith from billing.", ["Your agent is John A. Smith from billing."]),
    ("Use the U.S. Postal Service.", ["Use the U.S. Postal Service."]),
    ("I live in the U.S. It is big.", ["I live in the U.S.", "It is big."]),
    ("Plan A. Then plan B.", ["Plan A.", "Then plan B."]),
])
def test_an_initial_before_a_name_ends_no_sentence(text: str, pieces: list[str]) -> None:
    assert [p.text for p in plan(text, first_chars=0)] == pieces


def test_sentences_split_after_abbreviations_are_expanded() -> None:
    texts = [p.text for p in plan("Ask Dr. Lee. She knows!", first_chars=60)]
    assert texts == ["Ask Doctor Lee.", "She knows!"]


@pytest.mark.parametrize("text, language, spoken", [
    # A capital in any script starts a sentence (only A-Z did: these were one piece).
    ("Bonjour. Étienne est là.", "fr", ["Bonjour.", "Étienne est là."]),
    ("Привет. Как дела?", "ru", ["Привет.", "Как дела?"]),
    # A script with no case, and CJK full stops, which take no space after them.
    ("مرحبا. كيف حالك؟ بخير.", "ar", ["مرحبا.", "كيف حالك؟", "بخير."]),
    ("你好。你好吗？我很好。", "zh", ["你好。", "你好吗?", "我很好。"]),  # NFKC: "？" is "?"
    ("¿Qué? ¡Sí! «Vale.»", "es", ["¿Qué?", "¡Sí!", "«Vale.»"]),
    # A lowercase word after a stop goes on, in any script.
    ("Il est 5 h. environ. Voilà.", "fr", ["Il est 5 h. environ.", "Voilà."]),
    ("He said. Two apples! e.g. these.", "en", ["He said.", "Two apples! for example these."]),
])
def test_a_sentence_starts_at_a_capital_or_caseless_letter_in_any_script(
        text: str, language: str, spoken: list[str]) -> None:
    pieces = plan(text, language, first_chars=0)
    assert [p.text for p in pieces] == spoken
    assert all(p.ends_sentence for p in pieces)


def test_instructions_map_pace_and_style_and_ignore_the_rest() -> None:
    assert style_for("please speak slowly").length > 1.0
    assert style_for("quickly!").length < 1.0
    calm = style_for("calm and reassuring")
    lively = style_for("expressive")
    assert calm.noise < 1.0 < lively.noise
    assert style_for("like a pirate, in Klingon") == style_for(None)
    assert style_for(None, speed=2.0).length == pytest.approx(0.5)
    # A word negated is not asked for ("not too fast" sped speech up).
    assert style_for("not too fast, please") == style_for(None)
    assert style_for("don't be monotone; speak slowly") == style_for("speak slowly")
    # ...in its own clause only: these lost their pace to a negation before it.
    for asked in ("No jargon. Speak slowly.", "Don't rush, speak slowly.",
                  "Never sound robotic; speak slowly and warmly.", "No, speak slowly",
                  "Not monotone but slowly"):
        assert style_for(asked).length == style_for("slowly").length, asked
    assert style_for("Speak clearly. Don't speak slowly.") == style_for(None)
    # A pace asked for outright wins over one a mood implies, wherever it stands; the
    # mood keeps its variation.
    assert style_for("excited, fast").length == style_for("fast").length
    assert style_for("excited, fast").noise == style_for("excited").noise
    assert style_for("slowly, not quickly").length == style_for("slowly").length
    assert style_for("excited").length < 1.0


def test_a_language_gets_its_exact_voice_before_a_cousin(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The default voice speaks another language: en-US asked for gets the en-US voice,
    not the en-GB one listed before it (any English was taken first)."""
    from servers.tts.voices import VoiceCatalog, VoiceInfo

    voices = [VoiceInfo(name, tmp_path / f"{name}.onnx", lang, 22050, name)
              for name, lang in (("es", "es-ES"), ("gb", "en-GB"), ("us", "en-US"))]
    catalog = VoiceCatalog(voices, "es")
    assert catalog.for_language("en-US").id == "us"  # type: ignore[union-attr]
    assert catalog.for_language("en-AU").id == "gb"  # type: ignore[union-attr]
    assert catalog.for_language("es-MX").id == "es"  # type: ignore[union-attr]
    assert catalog.for_language("fr-FR") is None


def test_voice_catalog_scans_a_voices_dir_once_per_file(tmp_path, voice_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from servers.tts.voices import VoiceCatalog

    extra = tmp_path / "voices" / "en_GB-test-low"
    extra.mkdir(parents=True)
    shutil.copy(voice_path, extra / "en_GB-test-low.onnx")
    config = voice_path.with_name(voice_path.name + ".json").read_text()
    (extra / "en_GB-test-low.onnx.json").write_text(config.replace('"en_US"', '"en_GB"'))
    catalog = VoiceCatalog.discover("piper-en_US-joe-medium", tmp_path / "models", tmp_path)
    assert catalog.ids == ["piper-en_US-joe-medium", "en_GB-test-low"]
    assert catalog.get("en_US-joe-medium").id == "piper-en_US-joe-medium"  # alias
    # The default voice speaks English, whatever the region asked for; a voice of another
    # language is the first exact match, then the first of its primary language.
    assert catalog.for_language("en-GB").id == "piper-en_US-joe-medium"
    assert catalog.for_language("en").id == "piper-en_US-joe-medium"
    assert catalog.for_language("de") is None
    assert catalog.languages == ["en-GB", "en-US"]
    # The operator's en-GB voice stays the voice for the "en-US" Rymi sends (the packaged
    # en-US voice, an exact match, took its place).
    british = VoiceCatalog.discover(str(extra / "en_GB-test-low.onnx"), tmp_path / "models",
                                    tmp_path)
    assert british.for_language("en-US").id == british.default_id == "en_GB-test-low"



def test_a_voices_dir_mistake_is_said(tmp_path, voice_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A voices_dir that is no folder stops the start (it was skipped: every call for
    the operator's voices a 404); a voice with no config beside it is warned about."""
    import shutil

    from rymi_endpoints.models.catalog import ModelNotReady
    from servers.tts.voices import VoiceCatalog

    with pytest.raises(ModelNotReady, match="is not a folder"):
        VoiceCatalog.discover("piper-en_US-joe-medium", tmp_path / "models", tmp_path / "nope")
    shutil.copy(voice_path, tmp_path / "en_GB-alan-medium.onnx")  # its .onnx.json missing
    with caplog.at_level("WARNING", logger="rymi.tts.voices"):
        catalog = VoiceCatalog.discover("piper-en_US-joe-medium", tmp_path / "models",
                                        tmp_path)
    assert "en_GB-alan-medium" not in catalog.ids
    assert "no en_GB-alan-medium.onnx.json beside it" in caplog.text


def test_a_voice_piper_cannot_speak_with_is_not_offered(tmp_path, voice_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A config with sample rate 0, or an espeak voice espeak-ng lacks ("en-gb"), was
    listed and ready, then a 500 on every request for the voice."""
    import json
    import shutil

    from rymi_endpoints.models.catalog import ModelNotReady
    from servers.tts.voices import VoiceCatalog

    config = json.loads(voice_path.with_name(voice_path.name + ".json").read_text())
    for name, change in (("zero-rate", {"audio": {**config["audio"], "sample_rate": 0}}),
                         ("no-espeak", {"espeak": {"voice": "en-gb"}})):
        shutil.copy(voice_path, tmp_path / f"{name}.onnx")
        (tmp_path / f"{name}.onnx.json").write_text(json.dumps({**config, **change}))
    with caplog.at_level("WARNING", logger="rymi.tts.voices"):
        catalog = VoiceCatalog.discover("piper-en_US-joe-medium", tmp_path / "models",
                                        tmp_path)
    assert catalog.ids == ["piper-en_US-joe-medium"]
    assert "audio.sample_rate 0 in its config is not a sample rate" in caplog.text
    assert "espeak-ng has no voice 'en-gb'" in caplog.text
    with pytest.raises(ModelNotReady, match="no-espeak.onnx: espeak-ng has no voice"):
        VoiceCatalog.discover(str(tmp_path / "no-espeak.onnx"), tmp_path / "models", None)


def test_a_voice_whose_model_file_is_cut_short_is_not_offered(tmp_path, voice_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A copy or download cut short (or a Git LFS pointer in its place) was listed, and
    every request for the voice was a 500 "Protobuf parsing failed". Each voice's file is
    checked at start: a whole one passes, the rest are said and skipped."""
    import shutil

    from rymi_endpoints.models.catalog import ModelNotReady
    from servers.tts.onnx_file import onnx_problem
    from servers.tts.voices import VoiceCatalog

    data = voice_path.read_bytes()
    assert onnx_problem(voice_path) is None
    files = {"half": data[: len(data) // 2], "short-by-one": data[:-1], "empty": b"",
             "lfs-pointer": b"version https://git-lfs.github.com/spec/v1\noid sha256:0\n",
             "trailing-newline": data + b"\n", "zeros": bytes(4096)}
    for name, content in files.items():
        (tmp_path / f"{name}.onnx").write_bytes(content)
        shutil.copy(voice_path.with_name(voice_path.name + ".json"),
                    tmp_path / f"{name}.onnx.json")
    shutil.copy(voice_path, tmp_path / "whole.onnx")
    shutil.copy(voice_path.with_name(voice_path.name + ".json"), tmp_path / "whole.onnx.json")
    with caplog.at_level("WARNING", logger="rymi.tts.voices"):
        catalog = VoiceCatalog.discover("piper-en_US-joe-medium", tmp_path / "models",
                                        tmp_path)
    assert catalog.ids == ["piper-en_US-joe-medium", "whole"]
    for name in files:
        assert f"skipping voice {tmp_path / name}.onnx: its model file: " in caplog.text
    assert caplog.text.count("it is cut short") == 2 and "it is empty" in caplog.text
    with pytest.raises(ModelNotReady, match="half.onnx: its model file: it is cut short"):
        VoiceCatalog.discover(str(tmp_path / "half.onnx"), tmp_path / "models", None)


@pytest.mark.parametrize("language, spoken", [
    ("en-US", "Due March fourth, twenty twenty-four. Call zero two zero, seven nine four six, "
              "zero nine five eight."),
    ("en-GB", "Due April third, twenty twenty-four. Call zero two zero, seven nine four six, "
              "zero nine five eight."),
])
def test_dates_are_read_in_the_voices_order(language: str, spoken: str) -> None:
    """A British (Australian, Irish...) voice reads "03/04/2024" day first, as its
    listeners write it; a national number in groups is digit by digit anywhere."""
    assert normalize("Due 03/04/2024. Call 020 7946 0958.", language) == spoken


@pytest.mark.parametrize("text, language, spoken", [
    ("Call me on Monday 15/05.", "en-US", "Call me on Monday May fifteenth."),
    ("See you Monday 05/06.", "en-GB", "See you Monday June fifth."),
    ("See you Monday 05/06.", "en-US", "See you Monday May sixth."),
    ("Closed from 20/12 to 2/1.", "en-US", "Closed from December twentieth to January second."),
    ("Score 15/05, on 13/13.", "en-US", "Score fifteen/zero five, on thirteen/thirteen."),
    # "by" and "for" take a date, but a common fraction or a measure after them stays one.
    ("Pay by 15/1, cut by 1/2, for 1/10 of it, by 5/8 inch.", "en-GB",
     "Pay by January fifteenth, cut by one half, for one tenth of it, by five eighths inch."),
])
def test_a_day_and_month_without_a_year_are_read_in_their_order(
        text: str, language: str, spoken: str) -> None:
    """"Monday 15/05" was "fifteen slash zero five": only month-first days were dates. A
    first number past 12 (or a day-first English) says the order; its range follows it."""
    assert normalize(text, language) == spoken


@pytest.mark.parametrize("text, spoken", [
    ("World War II, Type II diabetes, a Phase III trial, Title IX, Super Bowl LVIII, "
     "World War I.",
     "World War two, Type two diabetes, a Phase three trial, Title nine, Super Bowl "
     "fifty-eight, World War one."),
    ("Henry VIII, King Charles III, Pope John Paul II and Robert Davis III; Rocky II.",
     "Henry the eighth, King Charles the third, Pope John Paul the second and Robert Davis "
     "the third; Rocky two."),
    # Not numerals here: the pronoun, a drip, a city, a size, a car.
    ("Then I said: start IV fluids in Washington DC, size XL, a Model X.",
     "Then I said: start IV fluids in Washington DC, size XL, a Model X."),
])
def test_a_roman_numeral_after_a_name_is_said(text: str, spoken: str) -> None:
    """espeak read them "Roman two" ("World War Roman two", "King Charles Roman three")."""
    assert normalize(text, "en-US") == spoken


@pytest.mark.parametrize("text, spoken", [
    # A wind's direction, a team, a unit of gas ("N W", "forty-nine ers", "per gal").
    ("Winds NW at 10 mph. The 49ers won. Gas is $3.89/gal.",
     "Winds Northwest at ten mph. The Forty-Niners won. Gas is three dollars and "
     "eighty-nine cents per gallon."),
])
def test_weather_and_sports_readings(text: str, spoken: str) -> None:
    assert normalize(text, "en-US") == spoken


@pytest.mark.parametrize("text, spoken", [
    ("Blood pressure 120/80 is normal.",
     "Blood pressure one hundred and twenty over eighty is normal."),
    ("Your BP: 135/85 mmHg.",
     "Your BP: one hundred and thirty-five over eighty-five millimeters of mercury."),
    ("Score 120/80", "Score one hundred and twenty/eighty"),
])
def test_a_blood_pressure_is_one_number_over_another(text: str, spoken: str) -> None:
    assert normalize(text, "en-US") == spoken


@pytest.mark.parametrize("text, spoken", [
    ("It weighs 2,5 kg, rate 2,75%.", "It weighs two point five kilograms, rate two point seven "
     "five percent."),
    ("Items 2,5 and 7; 1,000 kg", "Items two,five and seven; one thousand kilograms"),
])
def test_a_decimal_comma_before_a_unit_is_a_point(text: str, spoken: str) -> None:
    """"2,5 kg" was "two,five kg": no thousands group has one or two digits."""
    assert normalize(text, "en-US") == spoken


def test_the_first_style_word_wins_and_the_pace_stays_in_its_bounds() -> None:
    """As the TTS README says: the first style word found wins ("calm, then cheerful" is
    calm); a slow ``speed`` times a slow word stays within piper's length bound (2.9x
    was a drawl of a few words a minute)."""
    assert style_for("calm, then cheerful").noise == style_for("calm").noise
    assert style_for("cheerful, then calm").noise == style_for("cheerful").noise
    assert style_for("very slowly", speed=0.5).length == pytest.approx(2.5)
    assert style_for("very quickly", speed=4.0).length == pytest.approx(0.4)


@pytest.mark.parametrize("text, spoken", [
    ("Visit https://example.com/ now.", "Visit example dot com now."),
    ("See www.example.com/help/ today.", "See www dot example dot com slash help today."),
    ("Go to 310 Baker Street.", "Go to three ten Baker Street."),
    ("Go to 1010 Oak Avenue.", "Go to ten ten Oak Avenue."),
    ("Go to 305 Baker Street.", "Go to three oh five Baker Street."),
])
def test_a_urls_closing_slash_and_a_house_numbers_tens_are_read_as_said(
        text: str, spoken: str) -> None:
    """A link's closing "/" is not said ("example dot com slash"); a house number's tens
    are said as tens ("three ten", not "three oh ten")."""
    assert normalize(text, "en-US") == spoken


@pytest.mark.parametrize("language", ["en-GB", "en-AU", "en-NZ", "en-IE", "en-IN", "en-ZA",
                                      "en_au"])
def test_a_slash_date_is_day_first_in_every_english_that_writes_it_so(language: str) -> None:
    """03/04/2024 from an Australian (or Irish, Indian...) agent is 3 April; read as the
    US's March 4th, an appointment moved by a month."""
    assert normalize("Born 03/04/2024.", language) == "Born April third, twenty twenty-four."
    assert normalize("Born 03/04/2024.", "en-US") == "Born March fourth, twenty twenty-four."
