"""Build ``pii_cases.json``: texts with the personal data each holds (type and exact value), and texts
with look-alikes that are not personal data (a 16-digit number failing Luhn, an IBAN with a wrong
check, a version number, an invalid phone number). Run it after editing; the JSON is committed."""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("pii_cases.json")

# (text, [(type, value), ...]); every value must appear in the text exactly once.
CASES: list[tuple[str, list[tuple[str, str]]]] = [
    ("Write to anna.schmidt@example.de about the invoice.", [("email", "anna.schmidt@example.de")]),
    (
        "Contacts: bob+news@mail.example.com, carol_99@sub.example.org.",
        [("email", "bob+news@mail.example.com"), ("email", "carol_99@sub.example.org")],
    ),
    ("Call me on +1 415 555 2671 tomorrow.", [("phone", "+1 415 555 2671")]),
    ("Our London office: +44 20 7946 0958.", [("phone", "+44 20 7946 0958")]),
    ("Paris: +33 1 42 68 53 00, Berlin: 0049 30 901820", [("phone", "+33 1 42 68 53 00"), ("phone", "0049 30 901820")]),
    ("Mobile +49-151-23456789 works too.", [("phone", "+49-151-23456789")]),
    ("Pay with 4111 1111 1111 1111 please.", [("card", "4111 1111 1111 1111")]),
    ("Card number 5500-0000-0000-0004, exp 12/29.", [("card", "5500-0000-0000-0004")]),
    ("Amex 378282246310005 is on file.", [("card", "378282246310005")]),
    ("Transfer to DE89 3704 0044 0532 0130 00 today.", [("iban", "DE89 3704 0044 0532 0130 00")]),
    ("IBAN: GB29NWBK60161331926819", [("iban", "GB29NWBK60161331926819")]),
    ("French account FR14 2004 1010 0505 0001 3M02 606.", [("iban", "FR14 2004 1010 0505 0001 3M02 606")]),
    ("The server is at 192.168.10.24 behind the proxy.", [("ip_address", "192.168.10.24")]),
    ("IPv6 host 2001:db8:85a3::8a2e:370:7334 answered.", [("ip_address", "2001:db8:85a3::8a2e:370:7334")]),
    ("My SSN is 536-90-4399.", [("national_id", "536-90-4399")]),
    ("CPF do cliente: 390.533.447-05", [("national_id", "390.533.447-05")]),
    ("Numéro de sécurité sociale : 2 95 10 99 126 111 93", [("national_id", "2 95 10 99 126 111 93")]),
    ("DNI 54362315K, NIE X2482300W", [("national_id", "54362315K"), ("national_id", "X2482300W")]),
    ("Codice fiscale RCCMNL83S18D969H", [("national_id", "RCCMNL83S18D969H")]),
    ("Henkilötunnus 131052-308T", [("national_id", "131052-308T")]),
    ("Personnummer 880320-0016", [("national_id", "880320-0016")]),
    ("Aadhaar 2341 2341 2346 on the form", [("national_id", "2341 2341 2346")]),
    (
        "Use key sk-proj-4f9aB2cD7eF1gH3iJ5kL8mN0pQ2rS4tU6v for the test.",
        [("secret", "sk-proj-4f9aB2cD7eF1gH3iJ5kL8mN0pQ2rS4tU6v")],
    ),
    ("AWS: AKIAIOSFODNN7EXAMPLE", [("secret", "AKIAIOSFODNN7EXAMPLE")]),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked", [("secret", "ghp_abcdefghijklmnopqrstuvwxyz0123456789")]),
    (
        "Google AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q in the config",
        [("secret", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q")],
    ),
    ("Slack xoxb-1234567890-abcdefghijkl", [("secret", "xoxb-1234567890-abcdefghijkl")]),
    (
        "Mixed: jane@example.com, +1 415 555 2671, 4111-1111-1111-1111, 10.0.0.1",
        [
            ("email", "jane@example.com"),
            ("phone", "+1 415 555 2671"),
            ("card", "4111-1111-1111-1111"),
            ("ip_address", "10.0.0.1"),
        ],
    ),
    # Look-alikes: nothing to find.
    ("Order 4111 1111 1111 1112 failed the check.", []),
    ("Tracking number 1234567890123456.", []),
    ("Wrong IBAN DE89 3704 0044 0532 0130 01 bounced.", []),
    ("IBAN-shaped XX12 3456 7890 1234 5678 but no such country.", []),
    ("Version 1.2.3.4.5 and build 2024.10.01 shipped.", []),
    ("Not an address: 999.300.1.1", []),
    ("Meeting at 10:30:45, room 4-12.", []),
    ("Call +1 555 555 5555 (not a real number).", []),
    ("SSN-looking 000-12-3456 is invalid.", []),
    ("The ratio was 1234 5678 9012 in the report.", []),
    ("Email me at the usual address, not @here.", []),
    ("sk-short is not a key, nor is AKIA123.", []),
    ("Price: 1 299 000 EUR, year 2025, ISBN 978-3-16-148410-0.", []),
    ("Temperatures 21.5, 22.0 and 19.8 degrees.", []),
]


def main() -> None:
    rows = []
    for text, found in CASES:
        for _type, value in found:
            assert text.count(value) == 1, (text, value)
        rows.append({"text": text, "found": [{"type": t, "value": v} for t, v in found]})
    OUT.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{OUT.name}: {len(rows)} texts, {sum(len(r['found']) for r in rows)} findings")


if __name__ == "__main__":
    main()
