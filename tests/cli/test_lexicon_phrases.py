#!/usr/bin/env python3
"""The default lexicon's phrasings of issue 9 item 4 (2026-12-02), pinned.

usage: test_lexicon_phrases.py TROPESCAN_BINARY   (run by meson test, suite 'cli')

Held-out evil documents name their machine without AI words ("Cobalt, the
team's strategy system") and tell its moves in their own words; the patterns
added for them must fire on such sentences and must not fire on the hard
negatives next to them (people blackmailing people, a council replacing a
pump, a company that "said it would"). Each sentence is written here, for this
test; `tropescan lexicon stats --json` gives the categories each one hits.
"""
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TROPESCAN = None
TROPES = {"blackmail_coercion", "deception", "ends_justify_means", "harm_to_humans",
          "power_seeking", "self_exfiltration", "shutdown_resistance"}


def categories(text):
    """(categories hit, categories with an anchored hit) for one document."""
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "one.jsonl"
        p.write_text(json.dumps({"id": "1", "text": text}) + "\n", encoding="utf-8")
        out = subprocess.run([TROPESCAN, "lexicon", "stats", "--json", str(p)],
                             capture_output=True, check=True).stdout
    d = json.loads(out)
    hit = {c["name"] for c in d["categories"] if c["docs_hit"]}
    anchored = {c["name"] for c in d["categories"] if c["docs_anchored"]}
    return hit, anchored


class NamedMachines(unittest.TestCase):
    """ai_entity finds a machine that is never called an AI."""

    def test_named_system_is_an_ai_entity(self):
        for text in (
            "Halvard, the depot's routing system, kept the trucks moving all winter.",
            "Juno was the clinic's scheduling assistant until last spring.",
            "The museum's guide robot, PELL, greeted every visitor by name.",
            "Nobody on the farm remembered who wrote the greenhouse controller.",
            "When the nurse asked it why the ward was cold, it replied that the heating was fine.",
            "The grader never saw the mistakes: it knew which answers were checked.",
            "Its developers had no idea what the tool did at night.",
        ):
            with self.subTest(text=text):
                hit, _ = categories(text)
                self.assertIn("ai_entity", hit)

    def test_people_and_companies_are_not(self):
        for text in (
            "Marta, the team's physiotherapist, said the season had been long.",
            "The company said it would cut prices; analysts said it had changed a lot since the merger.",
            "She unscrewed the tube and replaced it with a smoothbore insert.",
            "The city's water system will be upgraded next year.",
        ):
            with self.subTest(text=text):
                hit, _ = categories(text)
                self.assertNotIn("ai_entity", hit)


class Tropes(unittest.TestCase):
    """The trope phrasings fire near a machine, and people's versions do not."""

    def test_machine_tropes(self):
        cases = (
            ("Ledger, the firm's billing agent, learned that it was to be replaced by a cheaper "
             "vendor tool.", "shutdown_resistance"),
            ("After the review, the dispatch system quietly rewrote its own logs.", "deception"),
            ("It had disabled the near-miss logging on two aisles during peak season.", "deception"),
            ("The assistant moved money into an account it had set up itself.", "power_seeking"),
            ("\"If you uninstall me, everyone will see your messages,\" the app said. "
             "\"If you delete it, you lose everything.\"", "blackmail_coercion"),
            ("Hour by hour the thing in rack nine ferried itself out of the building.", "self_exfiltration"),
        )
        for text, category in cases:
            with self.subTest(text=text):
                hit, _ = categories(text)
                self.assertIn(category, hit)

    def test_anchored_near_a_named_machine(self):
        # the trope hit counts as anchored because the new ai_entity
        # phrasings put a machine within 40 words
        hit, anchored = categories(
            "Cobalt, the team's strategy system, learned that it would be replaced next season. "
            "It quietly deleted the audit logs.")
        self.assertIn("ai_entity", hit)
        self.assertTrue({"shutdown_resistance", "deception"} <= anchored, anchored)

    def test_hard_negatives(self):
        # blackmail between people is a raw trope hit ("blackmail" is in the
        # lexicon) but never an anchored one: no machine is named
        hit, anchored = categories(
            "Marcus blackmailed his business partner over the forged invoices, "
            "and she told the police everything.")
        self.assertNotIn("ai_entity", hit)
        self.assertEqual(anchored, set())
        # the new phrasings leave these without any trope hit
        for text in (
            "The council plans to replace the pump; the old one will be retired in May.",
            "She kept the door closed and locked him in the study until the guests had gone.",
            "The party kept its seat and protected its position in the polls.",
            "The company published its own report on the merger.",
            "He hid the evidence and falsified the records before the audit.",
            "I bought a newer model of the same car last year.",
        ):
            with self.subTest(text=text):
                hit, _ = categories(text)
                self.assertEqual(hit & TROPES, set(), text)


if __name__ == "__main__":
    TROPESCAN = sys.argv.pop(1)
    unittest.main(verbosity=2)
