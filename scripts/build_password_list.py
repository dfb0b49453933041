"""Build accounts/auth/data/common-passwords.txt.gz for the "nist" profile.

The list is Django's own common-password list (shipped with Django, so no
network call) plus long, guessable phrases a 15-character minimum would
otherwise let through, and the product's own names. Run it again after a
Django upgrade; the output is sorted so diffs stay readable.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import django.contrib.auth

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "accounts" / "auth" / "data" / "common-passwords.txt.gz"

SEEDS = [
    "password",
    "passw0rd",
    "qwerty",
    "letmein",
    "welcome",
    "iloveyou",
    "admin",
    "changeme",
    "cloudexpress",
    "compliance",
    "monkey",
    "dragon",
    "sunshine",
]
KEYBOARD = [
    "qwertyuiopasdfghjkl",
    "qwertyuiopasdfgh",
    "1qaz2wsx3edc4rfv",
    "zaq12wsxcde34rfv",
    "1234567890123456",
    "123456789012345",
    "abcdefghijklmnop",
    "aaaaaaaaaaaaaaa",
    "correcthorsebatterystaple",
    "thequickbrownfox",
    "iloveyouiloveyou",
]


def additions() -> set[str]:
    found = set(KEYBOARD)
    for seed in SEEDS:
        found.add(seed * 2)
        found.add(seed * 3)
        for year in range(1990, 2031):
            found.add(f"{seed}{year}")
            found.add(f"{seed}{year}!")
            found.add(f"{seed}@{year}")
        for suffix in ("123456789", "1234567890", "!@#$%^&*", "1234!@#$"):
            found.add(seed + suffix)
    return {word for word in found if len(word) >= 8}


def main() -> None:
    source = Path(django.contrib.auth.__file__).parent / "common-passwords.txt.gz"
    words = set(gzip.decompress(source.read_bytes()).decode().split())
    words |= additions()
    text = "\n".join(sorted(w.strip().lower() for w in words if w.strip())) + "\n"
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_bytes(gzip.compress(text.encode(), mtime=0))
    print(f"{len(words)} passwords written to {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
