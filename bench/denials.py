"""How the guard reads sentences worded with a negation: findings taken for denials, and denials for findings.

A finding read as a denial ("The fever hasn't broken in four days") passes the guard on any topic the
case leaves out, so a model-played patient could invent it; a denial read as a finding ("Nothing's
drooping on his face") must rest on a fact, and is rejected where none backs it. The sentences of
``bench/data/negation_sentences.json`` were written for this bench, blind to the guard, and serve as a
dev set: rules may be made from the errors printed here. The knowledge base's own phrasings (its
findings worded with a negation, and its negatives) are read the same way beside them.

Run: `python bench/denials.py [--errors]`.
"""

import argparse
import json
from pathlib import Path

from cases.kb import load_kb
from cases.text import negated
from personas.guard import denies


def _report(name: str, findings: list[str], denials: list[str], errors: bool) -> None:
    as_denials = [s for s in findings if denies(s)]
    as_findings = [s for s in denials if not denies(s)]
    print(
        f"{name:28s} findings read as denials {len(as_denials):3d}/{len(findings):<4d} "
        f"({len(as_denials) / len(findings):5.1%})   denials read as findings {len(as_findings):3d}/{len(denials):<4d} "
        f"({len(as_findings) / len(denials):5.1%})"
    )
    if errors:
        for s in as_denials:
            print(f"  finding read as a denial: {s}")
        for s in as_findings:
            print(f"  denial read as a finding: {s}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--errors", action="store_true", help="print every sentence read the wrong way")
    args = ap.parse_args()
    written = json.loads((Path(__file__).parent / "data" / "negation_sentences.json").read_text("utf-8"))
    _report("written for this bench", written["finding"], written["denial"], args.errors)
    kb = load_kb()
    said = {s for c in kb.conditions for f in c.findings for s in (*f.lay, *f.lay_caregiver)}
    findings = sorted(s for s in said if "{" not in s and negated(s))
    negatives = sorted(
        {s for c in kb.conditions for f in c.negatives for s in (*f.lay, *f.lay_caregiver) if "{" not in s}
    )
    _report("knowledge base's phrasings", findings, negatives, args.errors)


if __name__ == "__main__":
    main()
