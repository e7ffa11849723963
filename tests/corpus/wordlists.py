"""Writes the word lists the filter-quality test builds its messages from.

The words are the most frequent English and Russian words of wordfreq 3.1.1's "small" lists
(https://github.com/rspeer/wordfreq, data under CC BY-SA 4.0), letters only, in frequency
order. Rerun (needs network access to PyPI) with:

    python3 -m venv /tmp/wf && /tmp/wf/bin/pip install wordfreq==3.1.1
    /tmp/wf/bin/python tests/corpus/wordlists.py
"""

import pathlib

from wordfreq import iter_wordlist

HERE = pathlib.Path(__file__).parent
COUNT = 20000

for lang in ("en", "ru"):
    words = []
    for word in iter_wordlist(lang, "small"):
        if word.isalpha() and len(word) >= 1:
            words.append(word)
        if len(words) == COUNT:
            break
    (HERE / f"words-{lang}.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
